// Org and member ids as types: made only from valid text, told apart by the compiler.
#include <boost/test/unit_test.hpp>

#include <set>
#include <string>
#include <type_traits>

#include "engine/ids.h"

namespace tally {
namespace {

BOOST_AUTO_TEST_CASE(make_accepts_ids_and_names_the_field_it_refuses) {
  BOOST_TEST(OrgId::make("acme-corp_1.eu@x+y").value().str() == "acme-corp_1.eu@x+y");
  BOOST_TEST(OrgId::make(std::string(128, 'a')).is_ok());
  for (const std::string& bad : {std::string(), std::string(129, 'a'), std::string("a:b"), std::string("a b"),
                                std::string("\xC3\xA9")}) {
    const Result<OrgId> org = OrgId::make(bad);
    BOOST_REQUIRE(!org.is_ok());
    BOOST_TEST(org.status().field() == "org_id");
    BOOST_TEST(MemberId::make(bad).status().field() == "member_id");
    BOOST_TEST(!OrgIdView::make(bad).is_ok());
  }
}

BOOST_AUTO_TEST_CASE(views_and_owned_ids_compare_as_their_text) {
  const OrgId owned = OrgId::make("acme").value();
  const OrgIdView view = owned;  // a view of an owned id
  BOOST_TEST(view.str().data() == owned.str().data());  // no copy
  BOOST_TEST((view == OrgIdView("acme")));               // a literal, checked when compiling
  BOOST_TEST((OrgId(view) == owned));
  BOOST_TEST(owned == std::string_view("acme"));
  BOOST_TEST((OrgIdView("a") < OrgIdView("b")));
  const std::set<OrgId> sorted = {OrgId::make("b").value(), OrgId::make("a").value()};
  BOOST_TEST(sorted.begin()->str() == "a");
  BOOST_TEST(OrgId().empty());       // "no org"
  BOOST_TEST(OrgIdView().empty());
}

// An org id is not a member id: passing one for the other does not compile.
static_assert(!std::is_convertible_v<OrgId, MemberIdView>);
static_assert(!std::is_convertible_v<MemberIdView, OrgIdView>);
static_assert(!std::is_convertible_v<std::string, OrgIdView>);  // text must be made into an id
static_assert(std::is_convertible_v<OrgId, OrgIdView>);
static_assert(is_id_text("acme") && !is_id_text("a/b") && !is_id_text(""));

}  // namespace
}  // namespace tally
