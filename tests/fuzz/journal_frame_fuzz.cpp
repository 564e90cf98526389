// Fuzz target: any bytes as what the journal stores (log/journal_format.h): the first 16 bytes as a
// record key, the whole input as a frame (a "records" value: append time, key length, key, event).
// These are the functions the journal's reader and `tally journal check` decode stored bytes with;
// a frame that does not decode is damage, reported and skipped, never a crash (SPEC §10).
//
// Invariants: a frame that decodes re-encodes to the same bytes; one that does not has damage
// that frame_damage() names; the append time reader agrees with the decoder; a record key that
// decodes re-encodes to the same 16 bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "log/journal_format.h"

namespace {

namespace jf = tally::journal_format;

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "journal_frame_fuzz: %s\n", what);
  std::abort();
}

void check_key(std::string_view bytes) {
  const auto key = jf::decode_record_key(bytes);
  if (!key) return;
  const auto encoded = jf::record_key(key->topic_id, key->partition, key->offset);
  if (std::string_view(encoded.data(), encoded.size()) != bytes) broken("record key does not round-trip");
}

void check_frame(std::string_view frame) {
  const auto decoded = jf::decode_record_value(frame);
  if (!decoded) {
    if (jf::frame_damage(frame).empty()) broken("damage without words");
    if (frame.size() >= 8 && !jf::frame_appended_at(frame)) broken("damaged frame with a header has no append time");
    return;
  }
  if (jf::frame_appended_at(frame) != decoded->appended_at_ms) broken("append time readers disagree");
  std::string encoded(jf::record_value_size(decoded->key, decoded->value), '\0');
  jf::encode_record_value(encoded.data(), decoded->appended_at_ms, decoded->key, decoded->value);
  if (encoded != frame) broken("frame does not round-trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check_key(bytes.substr(0, jf::record_key_bytes));
  check_frame(bytes);
  return 0;
}
