#include "crypto/hmac.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cassert>
#include <climits>

namespace tally::connectors {

std::array<uint8_t, hmac_sha256_bytes> hmac_sha256(std::string_view key, std::string_view message) {
  std::array<uint8_t, hmac_sha256_bytes> out{};
  unsigned int out_len = 0;
  // OpenSSL takes an int key length; a key over 2 GiB is a programmer error, not input.
  assert(key.size() <= static_cast<std::size_t>(INT_MAX));
  const unsigned char* digest =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(), &out_len);
  // HMAC fails only if OpenSSL is broken (no SHA-256): nothing sensible to do but stop.
  assert(digest != nullptr && out_len == hmac_sha256_bytes);
  (void)digest;
  return out;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(digits[byte >> 4]);
    out.push_back(digits[byte & 0x0f]);
  }
  return out;
}

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
  const auto mac = hmac_sha256(key, message);
  return to_hex(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

std::string timestamped_signature_hex(std::string_view secret, int64_t timestamp_s, std::string_view payload) {
  std::string signed_text = std::to_string(timestamp_s);
  signed_text += '.';
  signed_text.append(payload);
  return hmac_sha256_hex(secret, signed_text);
}

bool constant_time_equals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace tally::connectors
