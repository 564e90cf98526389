// FlatBuffers verification of an envelope, counted (validate.h). A translation unit of its own:
// the verifier is the fold's most expensive step, and its code should not change with the
// checks that follow it.
#include <atomic>

#include "engine/validate.h"
#include "tally/events_generated.h"

namespace tally {
namespace {

std::atomic<uint64_t> envelope_verifications_counter{0};

}  // namespace

bool verify_envelope_buffer(std::string_view bytes) {
  envelope_verifications_counter.fetch_add(1, std::memory_order_relaxed);
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return fb::VerifyEnvelopeBuffer(verifier);
}

uint64_t envelope_verifications() { return envelope_verifications_counter.load(std::memory_order_relaxed); }

}  // namespace tally
