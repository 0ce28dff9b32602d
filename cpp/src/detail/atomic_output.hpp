#pragma once

#include <filesystem>

#include "detail/file.hpp"

namespace ndbridge::detail {

/// A file written under a temporary name beside its destination and renamed
/// into place by commit(). Until then the destination is untouched; if the
/// object is destroyed without commit() (an exception, a failed write) the
/// temporary file is removed, so no half-written file ever carries the final
/// name.
class AtomicOutput {
 public:
  /// Creates the temporary file (mode 0666 minus umask, like any new file).
  explicit AtomicOutput(const std::filesystem::path& destination);
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;
  ~AtomicOutput();

  /// The temporary file to write into. Its name() is the destination's, so
  /// messages name the file the user asked for.
  File& file() noexcept { return file_; }
  /// Where the data goes until commit(), for writers (such as HDF5) that
  /// open the file by name themselves.
  const std::filesystem::path& temporary() const noexcept { return temporary_; }
  /// Flushes to disk, closes and renames over the destination.
  void commit();
  /// As commit(), but never replaces a destination that exists by then:
  /// FileError (EEXIST) naming it, and the temporary file is removed. Hard
  /// links the file into place (atomic: no check-then-rename window).
  void commit_as_new();

 private:
  std::filesystem::path destination_;
  std::filesystem::path temporary_;
  File file_;
  bool committed_ = false;
};

}  // namespace ndbridge::detail
