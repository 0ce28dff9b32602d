#pragma once

#include <cstddef>
#include <functional>

#include "ndbridge/array.hpp"

namespace ndbridge::detail {

/// Receives consecutive pieces of element bytes.
using ByteSink = std::function<void(const std::byte*, std::size_t)>;

/// Hands the elements of `view` to `sink` in C (row-major) order, whatever
/// its strides: in one piece when it is already C-contiguous, otherwise
/// gathered through a buffer of at most `buffer_bytes`.
void gather_c_order(const ArrayView& view, const ByteSink& sink,
                    std::size_t buffer_bytes = std::size_t{16} << 20);

}  // namespace ndbridge::detail
