#pragma once

#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace ndbridge {

/// Base of every error ndbridge throws. The message always names the file (or
/// stream) involved and what is wrong with it.
class Error : public std::runtime_error {
 public:
  /// Takes the message: what went wrong, naming the file.
  using std::runtime_error::runtime_error;
};

/// The input is not a well-formed file of the expected format: bad magic, a
/// header that does not parse, sizes that disagree with the file, truncation.
class FormatError : public Error {
 public:
  /// Takes the message: what went wrong, naming the file.
  using Error::Error;
};

/// The input is well formed but holds content this library does not handle,
/// such as object (pickled) or structured dtypes.
class UnsupportedError : public Error {
 public:
  /// Takes the message: what went wrong, naming the file.
  using Error::Error;
};

/// An operating-system level failure: a file that cannot be opened, read,
/// written or renamed. Carries the `errno` value so callers (and the Python
/// binding) can tell "not found" from "permission denied". Python sees it
/// as ndbridge.FileError, an OSError (FileNotFoundError, PermissionError,
/// FileExistsError... by errno).
class FileError : public Error {
 public:
  /// `message` should already name the file; `errno_value` is 0 when unknown.
  FileError(const std::string& message, int errno_value)
      : Error(message), errno_value_(errno_value) {}

  /// The `errno` value of the failed call, or 0 when there was none.
  int errno_value() const noexcept { return errno_value_; }

 private:
  int errno_value_;
};

/// Deprecated alias of FileError; write FileError, as Python does.
using IOError = FileError;

/// A caller asked for something the data cannot give: a row range outside the
/// first axis, a C++ element type that does not match the array's dtype.
class UsageError : public Error {
 public:
  /// Takes the message: what went wrong, naming the file.
  using Error::Error;
};

/// A name that does not exist in the file: a dataset, group, attribute or
/// archive member.
class NotFoundError : public Error {
 public:
  /// Takes the message: what went wrong, naming the file.
  using Error::Error;
};

/// The HDF5 library reported a failure. what() gives the operation, the file
/// and HDF5's innermost explanation; stack() the whole HDF5 error stack.
/// When the failure was the operating system's (a full disk, a file-size
/// limit, a refused open), errno_value() carries its `errno` and what() ends
/// with the system's text for it.
class H5Error : public Error {
 public:
  H5Error(const std::string& message, std::string stack, int errno_value = 0)
      : Error(message), stack_(std::move(stack)), errno_value_(errno_value) {}

  /// HDF5's error stack, innermost call first, one entry per line.
  const std::string& stack() const noexcept { return stack_; }
  /// The `errno` of the system call that failed inside HDF5, or 0.
  int errno_value() const noexcept { return errno_value_; }

 private:
  std::string stack_;
  int errno_value_;
};

/// Memory for an array read from a file could not be had (an allocation
/// failed, as under a memory limit). It is a std::bad_alloc, so code that
/// catches that keeps working, and Python sees a MemoryError, but its what()
/// names the file and the size asked for.
class OutOfMemory : public std::bad_alloc {
 public:
  /// Takes the message: how many bytes, to read what.
  explicit OutOfMemory(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

}  // namespace ndbridge
