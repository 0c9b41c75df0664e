// Status and StatusOr<T>: the error values returned at every boundary that can
// fail for outside reasons (files, formats, user input, subprocesses).
//
//   StatusOr<Config> c = LoadConfig(path);
//   if (!c.ok()) return c.status();
//   Use(*c);
//
// A Status carries a code and a one-line message that names the file, field or
// argument and says what to do. Value types; thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "llemma/core/check.h"

namespace llemma {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kDataLoss,        // corrupt or truncated file
  kFailedPrecondition,
  kOutOfRange,
  kUnimplemented,
  kInternal,
  kDeadlineExceeded,
  kResourceExhausted,
  kUnavailable,
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "code: message", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context + ": "`.
  Status WithContext(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgumentError(std::string m) {
  return Status(StatusCode::kInvalidArgument, std::move(m));
}
inline Status NotFoundError(std::string m) { return Status(StatusCode::kNotFound, std::move(m)); }
inline Status DataLossError(std::string m) { return Status(StatusCode::kDataLoss, std::move(m)); }
inline Status FailedPreconditionError(std::string m) {
  return Status(StatusCode::kFailedPrecondition, std::move(m));
}
inline Status OutOfRangeError(std::string m) {
  return Status(StatusCode::kOutOfRange, std::move(m));
}
inline Status UnimplementedError(std::string m) {
  return Status(StatusCode::kUnimplemented, std::move(m));
}
inline Status InternalError(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }
inline Status DeadlineExceededError(std::string m) {
  return Status(StatusCode::kDeadlineExceeded, std::move(m));
}
inline Status ResourceExhaustedError(std::string m) {
  return Status(StatusCode::kResourceExhausted, std::move(m));
}
inline Status UnavailableError(std::string m) {
  return Status(StatusCode::kUnavailable, std::move(m));
}

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(const Status& status) : status_(status) {  // NOLINT: implicit by design
    LLEMMA_CHECK(!status_.ok()) << "StatusOr constructed from an OK status without a value";
  }
  StatusOr(Status&& status) : status_(std::move(status)) {  // NOLINT
    LLEMMA_CHECK(!status_.ok()) << "StatusOr constructed from an OK status without a value";
  }
  StatusOr(const T& value) : value_(value) {}  // NOLINT
  StatusOr(T&& value) : value_(std::move(value)) {}  // NOLINT

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  T& value() & {
    LLEMMA_CHECK(ok()) << status_.ToString();
    return *value_;
  }
  const T& value() const& {
    LLEMMA_CHECK(ok()) << status_.ToString();
    return *value_;
  }
  T&& value() && {
    LLEMMA_CHECK(ok()) << status_.ToString();
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace llemma

#define LLEMMA_STATUS_CONCAT_INNER(a, b) a##b
#define LLEMMA_STATUS_CONCAT(a, b) LLEMMA_STATUS_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define LLEMMA_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::llemma::Status _llemma_status = (expr);        \
    if (!_llemma_status.ok()) return _llemma_status; \
  } while (0)

// `LLEMMA_ASSIGN_OR_RETURN(auto x, MakeX());`
#define LLEMMA_ASSIGN_OR_RETURN(lhs, expr) \
  LLEMMA_ASSIGN_OR_RETURN_IMPL(LLEMMA_STATUS_CONCAT(_llemma_or_, __LINE__), lhs, expr)
#define LLEMMA_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
