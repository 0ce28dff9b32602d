#pragma once

#include <stdexcept>
#include <string>

namespace ndbridge {

/// Base of every error ndbridge throws. The message always names the file (or
/// stream) involved and what is wrong with it.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The input is not a well-formed file of the expected format: bad magic, a
/// header that does not parse, sizes that disagree with the file, truncation.
class FormatError : public Error {
 public:
  using Error::Error;
};

/// The input is well formed but holds content this library does not handle,
/// such as object (pickled) or structured dtypes.
class UnsupportedError : public Error {
 public:
  using Error::Error;
};

/// An operating-system level failure: a file that cannot be opened, read,
/// written or renamed. Carries the `errno` value so callers (and the Python
/// binding) can tell "not found" from "permission denied".
class IOError : public Error {
 public:
  /// `message` should already name the file; `errno_value` is 0 when unknown.
  IOError(const std::string& message, int errno_value)
      : Error(message), errno_value_(errno_value) {}

  /// The `errno` value of the failed call, or 0 when there was none.
  int errno_value() const noexcept { return errno_value_; }

 private:
  int errno_value_;
};

/// A caller asked for something the data cannot give: a row range outside the
/// first axis, a C++ element type that does not match the array's dtype.
class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace ndbridge
