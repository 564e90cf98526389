// The SHA-256 hash chain (engine/chain.h, SPEC §10): what it covers and that nothing it covers can
// change without changing the head. Issue 14, finding 9: the chain was MurmurHash3, so a record
// could be forged to keep it.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "engine/chain.h"
#include "engine/event_factory.h"

namespace tally {
namespace {

constexpr int64_t t0 = 1'793'491'200'000;

std::string record(std::string_view key, std::string_view source) {
  return make_purchase(EventHeader{key, "acme", t0, source}, PaymentFields{5'000'000, 500, "usd", 0, 1, "ch_1"});
}

ChainLink link(const std::string& bytes, int64_t offset) {
  return ChainLink{bytes, LogPosition{PartitionId{2}, Offset{offset}}, t0 + offset, Outcome::applied, RejectReason::none};
}

Digest256 head_of(const std::vector<std::string>& records) {
  ChainHead chain;
  for (std::size_t i = 0; i < records.size(); ++i) chain.add(link(records[i], static_cast<int64_t>(i)));
  return chain.head;
}

}  // namespace

// head' = SHA-256(head ‖ u64 size ‖ record ‖ u64 partition ‖ u64 offset ‖ u64 appended_at ‖ u8
// outcome ‖ u8 reason), little-endian: the definition, byte for byte.
BOOST_AUTO_TEST_CASE(a_link_is_the_sha256_of_its_fields_in_order) {
  const std::string bytes = record("k1", "billing");
  Digest256 previous;
  previous.bytes.fill(0xab);
  ChainLink l = link(bytes, 7);
  l.outcome = Outcome::rejected;
  l.reason = RejectReason::clock_skew;
  std::string message(previous.bytes.begin(), previous.bytes.end());
  const auto u64 = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i) message.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  u64(bytes.size());
  message += bytes;
  u64(2);
  u64(7);
  u64(static_cast<uint64_t>(t0 + 7));
  message.push_back(static_cast<char>(Outcome::rejected));
  message.push_back(static_cast<char>(RejectReason::clock_skew));
  BOOST_TEST(chain_step(previous, l).to_hex() == sha256(message).to_hex());
  // The mark is the head's first 8 bytes, little-endian.
  const Digest256 head = chain_step(previous, l);
  uint64_t mark = 0;
  for (int i = 7; i >= 0; --i) mark = (mark << 8) | head.bytes[static_cast<std::size_t>(i)];
  BOOST_TEST(chain_mark(head) == mark);
}

// A forger who alters a record — any byte of it, `source` included (no view shows it), its position,
// its append time or the outcome recorded for it — or drops, inserts or reorders records, gets
// another head.
BOOST_AUTO_TEST_CASE(a_forged_record_cannot_keep_the_head) {
  const std::vector<std::string> log = {record("k1", "billing"), record("k2", "billing"), record("k3", "billing")};
  const Digest256 head = head_of(log);

  for (std::size_t at = 0; at < log[1].size(); ++at) {
    for (int bit : {0x01, 0x80}) {
      std::vector<std::string> forged = log;
      forged[1][at] = static_cast<char>(forged[1][at] ^ bit);
      BOOST_TEST(!(head_of(forged) == head), "byte " << at << " bit " << bit);
    }
  }
  std::vector<std::string> other_source = log;
  other_source[1] = record("k2", "billinG");  // same size, same key, same payload digest
  BOOST_TEST(other_source[1].size() == log[1].size());
  BOOST_TEST(!(head_of(other_source) == head));

  BOOST_TEST(!(head_of({log[0], log[2]}) == head));                   // dropped
  BOOST_TEST(!(head_of({log[0], log[1], log[1], log[2]}) == head));   // inserted
  BOOST_TEST(!(head_of({log[0], log[2], log[1]}) == head));           // reordered
  BOOST_TEST(!(head_of({log[0], log[1], log[2] + '\0'}) == head));    // extended

  const auto with = [&](auto change) {
    ChainHead chain;
    for (std::size_t i = 0; i < log.size(); ++i) {
      ChainLink l = link(log[i], static_cast<int64_t>(i));
      if (i == 1) change(l);
      chain.add(l);
    }
    return chain.head;
  };
  BOOST_TEST((with([](ChainLink&) {}) == head));
  BOOST_TEST(!(with([](ChainLink& l) { l.appended_at_ms += 1; }) == head));
  BOOST_TEST(!(with([](ChainLink& l) { l.position.partition = PartitionId{3}; }) == head));
  BOOST_TEST(!(with([](ChainLink& l) { l.position.offset = Offset{9}; }) == head));
  BOOST_TEST(!(with([](ChainLink& l) { l.outcome = Outcome::duplicate; }) == head));
  BOOST_TEST(!(with([](ChainLink& l) {
                 l.outcome = Outcome::rejected;
                 l.reason = RejectReason::wrong_partition;
               }) == head));
  // The record's bytes and the fields after them cannot trade places: the size comes first.
  BOOST_TEST(!(with([](ChainLink& l) { l.record = l.record.substr(0, l.record.size() - 1); }) == head));
}

BOOST_AUTO_TEST_CASE(an_empty_chain_starts_at_zero_and_counts_its_records) {
  ChainHead chain;
  BOOST_TEST(chain.head.is_zero());
  BOOST_TEST(chain.records == 0u);
  const std::string damaged = "stored bytes of a damaged frame";
  chain.add(ChainLink{damaged, LogPosition{}, 0, Outcome::rejected, RejectReason::damaged_record});
  BOOST_TEST(!chain.head.is_zero());
  BOOST_TEST(chain.records == 1u);
  // An empty record chains like any other, whether its view points anywhere or not (the UBSan
  // build checks that nothing copies from a null pointer).
  const ChainLink empty{std::string_view(), LogPosition{}, 0, Outcome::rejected, RejectReason::damaged_record};
  const ChainLink also_empty{std::string_view(damaged.data(), 0), LogPosition{}, 0, Outcome::rejected,
                             RejectReason::damaged_record};
  BOOST_TEST((chain_step(chain.head, empty) == chain_step(chain.head, also_empty)));
}

}  // namespace tally
