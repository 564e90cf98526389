// Status and Result: errors across module boundaries are values (LevelDB's Status).
// A Status names the field at fault where there is one, so a user can fix the input.
// Thread safety: plain values; distinct objects may be used from distinct threads.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "engine/assert.h"

namespace tally {

// [[nodiscard]]: an ignored error is a bug. Where ignoring one is right, say why beside a (void).
class [[nodiscard]] Status {
 public:
  enum class Code { ok, invalid_argument, not_found, conflict, io_error, corruption, unavailable, too_large };

  Status() = default;
  static Status ok() { return Status(); }
  static Status invalid(std::string field, std::string message) {
    return Status(Code::invalid_argument, std::move(field), std::move(message));
  }
  static Status error(Code code, std::string message) { return Status(code, {}, std::move(message)); }
  static Status error(Code code, std::string field, std::string message) {
    return Status(code, std::move(field), std::move(message));
  }

  bool is_ok() const { return code_ == Code::ok; }
  Code code() const { return code_; }
  // The offending field as a JSON-ish path ("credits_micros", "models[1].model"), empty if none.
  const std::string& field() const { return field_; }
  const std::string& message() const { return message_; }
  // "field: message" or "message": for logs and the CLI.
  std::string to_string() const { return field_.empty() ? message_ : field_ + ": " + message_; }

 private:
  Status(Code code, std::string field, std::string message)
      : code_(code), field_(std::move(field)), message_(std::move(message)) {}
  Code code_ = Code::ok;
  std::string field_;
  std::string message_;
};

// A value or the Status saying why there is none.
// REQUIRES: value() only when is_ok().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    TALLY_ASSERT(!status_.is_ok(), "a Result without a value holds an error");
  }
  bool is_ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() {
    TALLY_ASSERT(value_.has_value(), "value() of a Result that holds an error");
    return *value_;
  }
  const T& value() const {
    TALLY_ASSERT(value_.has_value(), "value() of a Result that holds an error");
    return *value_;
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace tally
