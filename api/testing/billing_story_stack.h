// A stack told the billing story (api/testing/billing_story.h), as the billing page tests over
// HTTP and in a browser need it (test-only; header-only, as it needs Boost.Test).
#pragma once

#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>

#include <boost/json.hpp>

#include "api/testing/billing_story.h"
#include "api/testing/fake_payments.h"
#include "api/testing/http_test.h"

namespace tally::api::testing {

// Trusts admin, acme's owner and reader and globex's owner (api/testing/http_test.h); buys through
// `payments`. The story is told before the test starts (it fails there if the story does not go).
struct BillingStoryStack : StackClient {
  std::shared_ptr<FakePayments> payments = std::make_shared<FakePayments>();

  BillingStoryStack() {
    ApiStackOptions options;
    options.tokens = {admin_caller(), owner_caller(), reader_caller(), globex_caller()};
    options.commerce = billing_story_commerce(payments);
    start(options);
    const Status told = tell_billing_story(*client, {std::string(admin_token), std::string(owner_token)});
    BOOST_REQUIRE_MESSAGE(told.is_ok(), told.to_string());
  }

  // GET `target` as admin: the JSON of its answer, which must be a 200 (else the test fails).
  boost::json::value api(const std::string& target) {
    const HttpReply reply = client->send("GET", target, admin_token);
    BOOST_REQUIRE_MESSAGE(reply.status == 200, target << ": " << reply.body);
    return reply.json();
  }
};

}  // namespace tally::api::testing
