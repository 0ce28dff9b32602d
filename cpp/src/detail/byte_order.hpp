#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ndbridge/dtype.hpp"

namespace ndbridge::detail {

/// Reverses the bytes of every swap unit of `nbytes` bytes of `dtype`
/// elements (numbers whole, complex parts and UCS-4 characters separately).
void swap_bytes(std::byte* data, std::uint64_t nbytes, const DType& dtype) noexcept;

/// Throws UsageError naming `what` unless elements stored as `stored` can be
/// delivered as `wanted`: the same kind and size, in any byte order.
void check_readable_as(const DType& stored, const DType& wanted, const std::string& what);

/// Puts `nbytes` bytes of elements stored as `stored` into `wanted`'s byte
/// order, in place (check_readable_as first).
void convert_byte_order(const DType& stored, const DType& wanted, void* data, std::uint64_t nbytes) noexcept;

}  // namespace ndbridge::detail
