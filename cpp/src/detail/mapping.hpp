#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "detail/file.hpp"

namespace ndbridge::detail {

/// A read-only shared memory map of a whole file, unmapped when the last
/// owner lets go.
class Mapping {
 public:
  /// Maps the first `size` bytes of `file` (size > 0).
  static std::shared_ptr<Mapping> map(const File& file, std::uint64_t size);

  Mapping(const std::byte* base, std::size_t size) noexcept : base_(base), size_(size) {}
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping();

  const std::byte* data() const noexcept { return base_; }
  std::size_t size() const noexcept { return size_; }

 private:
  const std::byte* base_;
  std::size_t size_;
};

}  // namespace ndbridge::detail
