#include "detail/byte_order.hpp"

#include <algorithm>

#include "ndbridge/error.hpp"

namespace ndbridge::detail {

void swap_bytes(std::byte* data, std::uint64_t nbytes, const DType& dtype) noexcept {
  const std::size_t unit = dtype.swap_unit();
  if (unit <= 1) return;
  for (std::uint64_t i = 0; i < nbytes / unit; ++i, data += unit) std::reverse(data, data + unit);
}

void check_readable_as(const DType& stored, const DType& wanted, const std::string& what) {
  if (stored.native() == wanted.native()) return;
  throw UsageError(what + " holds " + stored.descr() + " elements, not " + wanted.descr() +
                   " (reads check the element type and convert only the byte order)");
}

void convert_byte_order(const DType& stored, const DType& wanted, void* data, std::uint64_t nbytes) noexcept {
  if (stored.byte_order() == wanted.byte_order()) return;
  swap_bytes(static_cast<std::byte*>(data), nbytes, stored);
}

}  // namespace ndbridge::detail
