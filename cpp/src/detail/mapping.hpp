#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "detail/file.hpp"

namespace ndbridge::detail {

/// A read-only shared memory map of a whole file, unmapped when the last
/// owner lets go.
class Mapping {
 public:
  /// Maps the first `size` bytes of `file` (size > 0).
  static std::shared_ptr<Mapping> map(const File& file, std::uint64_t size);
  /// Maps the pages of `file` that hold bytes [offset, offset + length)
  /// (length > 0); at() finds a file offset in them.
  static std::shared_ptr<Mapping> map(const File& file, std::uint64_t offset, std::uint64_t length);

  Mapping(const std::byte* base, std::size_t size, std::uint64_t file_offset = 0) noexcept
      : base_(base), size_(size), file_offset_(file_offset) {}
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping();

  const std::byte* data() const noexcept { return base_; }
  std::size_t size() const noexcept { return size_; }
  /// Where the byte at `offset` of the file is in the mapping (writable
  /// pointer type for Array's sake; the pages are read-only).
  std::byte* at(std::uint64_t offset) const noexcept {
    return const_cast<std::byte*>(base_) + (offset - file_offset_);
  }

 private:
  const std::byte* base_;
  std::size_t size_;
  std::uint64_t file_offset_;
};

/// A map of the whole of a file, made on first use and kept: how readers
/// that copy many small pieces (picked rows) avoid a pread per piece. It
/// relies on the file not shrinking while it is read, as any memory map
/// does (a page past the new end faults with SIGBUS).
class LazyMapping {
 public:
  /// The map of `file` as it was when opened, or null when there is none
  /// (an empty file, an address-space limit): read with pread then.
  /// Thread-safe; `file` must be the same on every call.
  const std::shared_ptr<Mapping>& get(const File& file) const;

 private:
  mutable std::once_flag once_;
  mutable std::shared_ptr<Mapping> mapping_;
};

}  // namespace ndbridge::detail
