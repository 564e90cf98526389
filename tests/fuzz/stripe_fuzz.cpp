// Fuzz target: any bytes as a Stripe webhook event (ingest/stripe_events.h map_stripe_event),
// with and without a bundle size, and with a purchase lookup for charges without metadata.
//
// Invariant: every event mapped (not ignored) is a valid canonical event: the codec
// (engine/event_json.h) accepts its JSON, which is what the webhook route appends.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "engine/event_json.h"
#include "ingest/stripe_events.h"

namespace {

using namespace tally::connectors;

[[noreturn]] void broken(const char* what, std::string_view input, std::string_view detail) {
  std::fprintf(stderr, "stripe_fuzz: %s\n  input:  %.*s\n  detail: %.*s\n", what, static_cast<int>(input.size()),
               input.data(), static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void map_with(std::string_view payload, const StripeMappingConfig& config) {
  const auto mapped = map_stripe_event(payload, config);
  if (!mapped.is_ok() || mapped.value().ignored) return;
  const std::string json = boost::json::serialize(mapped.value().event);
  const auto encoded = tally::event_from_json(json);
  if (!encoded.is_ok()) broken("a mapped event the codec refuses", json, encoded.status().to_string());
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
