#include "outbound/testing/http_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace tally::connectors::testing {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  return std::string(text);
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

}  // namespace

const std::string* ReceivedRequest::header(std::string_view name) const {
  const std::string wanted = lower(name);
  for (const HttpHeader& h : headers) {
    if (h.name == wanted) return &h.value;
  }
  return nullptr;
}

Result<std::unique_ptr<HttpReceiver>> HttpReceiver::start(ReceiverHandler handler) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::error(Status::Code::io_error, std::string("socket: ") + std::strerror(errno));
  const int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    ::close(fd);
    return Status::error(Status::Code::io_error, std::string("bind/listen: ") + std::strerror(error));
  }
  return std::unique_ptr<HttpReceiver>(new HttpReceiver(fd, ntohs(address.sin_port), std::move(handler)));
}

HttpReceiver::HttpReceiver(int listen_fd, uint16_t port, ReceiverHandler handler)
    : listen_fd_(listen_fd), port_(port), handler_(std::move(handler)) {
  thread_ = std::thread([this] { serve(); });
}

HttpReceiver::~HttpReceiver() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  thread_.join();
  ::close(listen_fd_);
}

std::string HttpReceiver::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

void HttpReceiver::serve() {
  while (!stopping_) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      return;  // shut down
    }
    serve_connection(fd);
    ::close(fd);
  }
}

void HttpReceiver::serve_connection(int fd) {
  timeval timeout{};
  timeout.tv_sec = receiver_socket_timeout_ms / 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string data;
  char buffer[8192];
  std::size_t header_end = std::string::npos;
  while (header_end == std::string::npos) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return;
    data.append(buffer, static_cast<std::size_t>(n));
    if (data.size() > receiver_request_bytes_max) return;
    header_end = data.find("\r\n\r\n");
  }
  ReceivedRequest request;
  std::size_t line_end = data.find("\r\n");
  const std::string request_line = data.substr(0, line_end);
  const std::size_t space1 = request_line.find(' ');
  const std::size_t space2 = request_line.find(' ', space1 + 1);
  if (space1 == std::string::npos || space2 == std::string::npos) return;
  request.method = request_line.substr(0, space1);
  request.target = request_line.substr(space1 + 1, space2 - space1 - 1);
  std::size_t content_length = 0;
  bool expect_continue = false;
  for (std::size_t at = line_end + 2; at < header_end;) {
    const std::size_t end = data.find("\r\n", at);
    const std::string line = data.substr(at, end - at);
    at = end + 2;
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    HttpHeader header{lower(line.substr(0, colon)), trim(std::string_view(line).substr(colon + 1))};
    if (header.name == "content-length") {
      char* end_of_number = nullptr;
      content_length = std::strtoull(header.value.c_str(), &end_of_number, 10);
      if (end_of_number == header.value.c_str()) return;
    }
    if (header.name == "expect" && lower(header.value) == "100-continue") expect_continue = true;
    request.headers.push_back(std::move(header));
  }
  if (content_length > receiver_request_bytes_max) return;
  if (expect_continue && !send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n")) return;
  request.body = data.substr(header_end + 4);
  while (request.body.size() < content_length) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return;
    request.body.append(buffer, static_cast<std::size_t>(n));
  }
  request.body.resize(content_length);

  const ReceiverResponse response = handler_(request);
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + reason(response.status) + "\r\n";
  bool has_content_type = false;
  for (const HttpHeader& h : response.headers) {
    if (lower(h.name) == "content-type") has_content_type = true;
    out += h.name + ": " + h.value + "\r\n";
  }
  if (!has_content_type) out += "Content-Type: application/json\r\n";
  out += "Content-Length: " + std::to_string(response.body.size()) + "\r\nConnection: close\r\n\r\n";
  out += response.body;
  send_all(fd, out);
}

}  // namespace tally::connectors::testing
