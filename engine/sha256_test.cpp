// SHA-256: the FIPS 180-4 test vectors, the accelerated path equal to the portable one, any split
// of the input into updates equal to one update, and agreement with OpenSSL on random inputs.
#include <openssl/sha.h>

#include <boost/test/unit_test.hpp>
#include <iostream>
#include <random>

#include "engine/sha256.h"

using namespace tally;

namespace {

uint64_t seed_of(const char* test) {
  const char* env = std::getenv("TALLY_SEED");
  const uint64_t seed = env ? std::strtoull(env, nullptr, 10) : 20261206;
  std::cout << test << ": seed " << seed << " (rerun with TALLY_SEED=" << seed << ")\n";
  return seed;
}

std::string random_bytes(std::mt19937_64& rng, std::size_t size) {
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

std::string openssl_hex(const std::string& bytes) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), out);
  Digest256 d;
  std::copy(out, out + 32, d.bytes.begin());
  return d.to_hex();
}

}  // namespace

BOOST_AUTO_TEST_CASE(fips_180_4_test_vectors) {
  BOOST_TEST(sha256("").to_hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(sha256("abc").to_hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  BOOST_TEST(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").to_hex() ==
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  BOOST_TEST(sha256(std::string(1'000'000, 'a')).to_hex() ==
             "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  std::cout << "implementation: " << sha256_implementation() << "\n";
}

BOOST_AUTO_TEST_CASE(the_accelerated_compression_equals_the_portable_one) {
  if (!sha256_internal::has_sha_extensions()) {
    std::cout << "no SHA extensions on this machine: only the portable path runs\n";
    return;
  }
  std::mt19937_64 rng(seed_of("accelerated_vs_portable"));
  for (int round = 0; round < 200; ++round) {
    const std::size_t blocks = 1 + rng() % 8;
    const std::string input = random_bytes(rng, 64 * blocks);
    uint32_t portable[8], accelerated[8];
    for (int i = 0; i < 8; ++i) portable[i] = accelerated[i] = static_cast<uint32_t>(rng());
    sha256_internal::compress_portable(portable, reinterpret_cast<const unsigned char*>(input.data()), blocks);
    sha256_internal::compress_sha_ni(accelerated, reinterpret_cast<const unsigned char*>(input.data()), blocks);
    BOOST_REQUIRE(std::equal(portable, portable + 8, accelerated));
  }
}

BOOST_AUTO_TEST_CASE(any_split_into_updates_gives_the_digest_of_the_whole_and_agrees_with_openssl) {
  std::mt19937_64 rng(seed_of("splits"));
  for (int round = 0; round < 300; ++round) {
    const std::string input = random_bytes(rng, rng() % 700);
    Sha256 pieces;
    std::size_t at = 0;
    while (at < input.size()) {
      const std::size_t take = std::min<std::size_t>(input.size() - at, rng() % 130);
      pieces.update(std::string_view(input).substr(at, take));
      at += take;
    }
    const std::string hex = pieces.finish().to_hex();
    BOOST_REQUIRE_EQUAL(hex, sha256(input).to_hex());
    BOOST_REQUIRE_EQUAL(hex, openssl_hex(input));
  }
}

BOOST_AUTO_TEST_CASE(integers_enter_as_eight_little_endian_bytes) {
  const std::string bytes("\x01\x02\x03\x04\x05\x06\x07\x08", 8);
  BOOST_TEST(Sha256().update_u64(0x0807060504030201ULL).finish().to_hex() == sha256(bytes).to_hex());
  BOOST_TEST(Digest256{}.is_zero());
  BOOST_TEST(!sha256("").is_zero());
}
