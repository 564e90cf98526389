#include "outbound/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cassert>
#include <cctype>
#include <mutex>

namespace tally::connectors {
namespace {

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Process-wide libcurl (and TLS library) setup; never cleaned up, like most long-lived users.
    const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
    assert(code == CURLE_OK);
    (void)code;
  });
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool has_line_break(std::string_view text) { return text.find_first_of("\r\n") != std::string_view::npos; }

struct Exchange {
  HttpResponse response;
  bool body_too_large = false;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const size_t bytes = size * count;
  if (exchange->response.body.size() + bytes > http_response_bytes_max) {
    exchange->body_too_large = true;
    return 0;  // makes curl stop with CURLE_WRITE_ERROR
  }
  exchange->response.body.append(data, bytes);
  return bytes;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const size_t bytes = size * count;
  std::string_view line(data, bytes);
  if (line.rfind("HTTP/", 0) == 0) {
    // A new status line (after 100 Continue): only the final response's headers count.
    exchange->response.headers.clear();
    return bytes;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || exchange->response.headers.size() >= http_response_headers_max) {
    return bytes;  // the blank line ending the headers, or more headers than we keep
  }
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
  exchange->response.headers.push_back(HttpHeader{std::move(name), std::string(value)});
  return bytes;
}

}  // namespace

const std::string* HttpResponse::header(std::string_view name) const {
  for (const HttpHeader& h : headers) {
    if (equals_ignore_case(h.name, name)) return &h.value;
  }
  return nullptr;
}

struct HttpClient::Handle {
  CURL* curl = nullptr;
};

HttpClient::HttpClient() : handle_(std::make_unique<Handle>()) {
  global_init_once();
  handle_->curl = curl_easy_init();
  assert(handle_->curl != nullptr);  // fails only when out of memory
}

HttpClient::~HttpClient() { curl_easy_cleanup(handle_->curl); }

namespace {

// The error of an exchange that produced no response, and its class for last_failure().
Status failed_exchange(CURLcode code, const char* error_text, bool body_too_large, HttpFailure& failure) {
  const std::string detail = error_text[0] != '\0' ? error_text : curl_easy_strerror(code);
  switch (code) {
    case CURLE_COULDNT_CONNECT:
      failure = HttpFailure::connection_refused;
      return Status::error(Status::Code::unavailable, "connection refused: " + detail);
    case CURLE_OPERATION_TIMEDOUT:
      failure = HttpFailure::timed_out;
      return Status::error(Status::Code::unavailable, "timed out: " + detail);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      failure = HttpFailure::invalid_request;
      return Status::invalid("url", detail);
    case CURLE_WRITE_ERROR:
      if (body_too_large) {
        failure = HttpFailure::response_too_large;
        return Status::error(Status::Code::too_large, "response body larger than 8 MiB");
      }
      [[fallthrough]];
    default:
      failure = HttpFailure::network;
      return Status::error(Status::Code::unavailable, "network error: " + detail);
  }
}

}  // namespace

Result<HttpResponse> HttpClient::send(const HttpRequest& request) {
  last_failure_ = HttpFailure::invalid_request;
  const bool is_post = request.method == "POST";
  if (!is_post && request.method != "GET") return Status::invalid("method", "must be GET or POST");
  if (request.url.rfind("http://", 0) != 0 && request.url.rfind("https://", 0) != 0) {
    return Status::invalid("url", "must start with http:// or https://");
  }
  if (request.timeout_ms <= 0 || request.connect_timeout_ms <= 0) {
    return Status::invalid("timeout_ms", "must be greater than 0");
  }

  CURL* curl = handle_->curl;
  curl_easy_reset(curl);  // keeps the connection cache, forgets the previous request's options
  curl_slist* header_list = nullptr;
  for (const HttpHeader& h : request.headers) {
    if (has_line_break(h.name) || has_line_break(h.value) || h.name.empty()) {
      curl_slist_free_all(header_list);
      return Status::invalid("headers", "header '" + h.name + "' is empty or contains a line break");
    }
    header_list = curl_slist_append(header_list, (h.name + ": " + h.value).c_str());
  }
  // No "Expect: 100-continue" round trip on larger bodies.
  header_list = curl_slist_append(header_list, "Expect:");

  Exchange exchange;
  char error_text[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: safe with threads
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout_ms));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout_ms));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &exchange);
  if (is_post) {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }

  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(header_list);
  // Later requests must not write into this stack frame.
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);

  if (code != CURLE_OK) return failed_exchange(code, error_text, exchange.body_too_large, last_failure_);
  long status_code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status_code);
  exchange.response.status_code = static_cast<int32_t>(status_code);
  last_failure_ = HttpFailure::none;
  return std::move(exchange.response);
}

Result<HttpResponse> HttpClient::post(std::string url, std::vector<HttpHeader> headers, std::string body,
                                      int64_t timeout_ms) {
  HttpRequest request;
  request.method = "POST";
  request.url = std::move(url);
  request.headers = std::move(headers);
  request.body = std::move(body);
  request.timeout_ms = timeout_ms;
  return send(request);
}

Result<HttpResponse> HttpClient::get(std::string url, std::vector<HttpHeader> headers, int64_t timeout_ms) {
  HttpRequest request;
  request.method = "GET";
  request.url = std::move(url);
  request.headers = std::move(headers);
  request.timeout_ms = timeout_ms;
  return send(request);
}

std::string url_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex[byte >> 4]);
      out.push_back(hex[byte & 0x0f]);
    }
  }
  return out;
}

namespace {

// SplitMix64: a tiny, well-mixed hash; enough for jitter.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

int64_t RetryPolicy::backoff_ms(int32_t retry) const {
  assert(retry >= 1);
  assert(backoff_ms_initial >= 0 && backoff_ms_max >= 0);
  int64_t ceiling = std::min(backoff_ms_initial, backoff_ms_max);
  for (int32_t n = 1; n < retry && ceiling > 0 && ceiling < backoff_ms_max; ++n) {
    ceiling = ceiling > backoff_ms_max / 2 ? backoff_ms_max : ceiling * 2;
  }
  const int64_t half = ceiling / 2;
  const int64_t spread = ceiling - half;  // jitter in [0, spread]
  const uint64_t random = mix(jitter_seed ^ mix(static_cast<uint64_t>(retry)));
  return half + static_cast<int64_t>(random % (static_cast<uint64_t>(spread) + 1));
}

}  // namespace tally::connectors
