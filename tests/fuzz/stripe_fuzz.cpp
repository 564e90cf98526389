// Fuzz target: any bytes as a Stripe webhook event (ingest/stripe_events.h map_stripe_event),
// with and without a bundle size, and with a purchase lookup for charges without metadata.
//
// Invariant: every event mapped (not ignored) is a valid canonical event: the codec
// (engine/event_json.h) accepts its JSON, which is what the webhook route appends.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "ingest/stripe_events.h"
#include "tests/fuzz/mapped_event_check.h"

namespace {

using namespace tally::connectors;

void map_with(std::string_view payload, const StripeMappingConfig& config) {
  tally::fuzz::check_mapped("stripe_fuzz", map_stripe_event(payload, config));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static const StripeMappingConfig plain{};
  static const StripeMappingConfig with_lookup = [] {
    StripeMappingConfig config;
    config.credits_per_bundle_micros = 50'000'000;
    config.find_purchase = [](std::string_view ref) -> std::optional<PurchaseRef> {
      if (ref.empty()) return std::nullopt;
      return PurchaseRef{"acme", "ch_1", 100'000'000, 30};
    };
    return config;
  }();
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  map_with(payload, plain);
  map_with(payload, with_lookup);
  return 0;
}
