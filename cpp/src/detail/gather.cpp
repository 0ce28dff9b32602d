#include "detail/gather.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

namespace ndbridge::detail {

void gather_c_order(const ArrayView& a, const ByteSink& sink, std::size_t buffer_bytes) {
  if (a.size() == 0) return;
  if (a.is_c_contiguous()) {
    sink(a.data(), static_cast<std::size_t>(a.nbytes()));
    return;
  }
  const std::size_t itemsize = a.dtype().itemsize();
  const std::size_t nd = a.ndim();
  std::vector<std::byte> buffer(static_cast<std::size_t>(std::min<std::uint64_t>(buffer_bytes, a.nbytes())));
  buffer.resize(std::max(buffer.size() - buffer.size() % itemsize, itemsize));
  std::vector<std::uint64_t> index(nd, 0);
  std::size_t used = 0;
  const std::byte* element = a.data();
  // Walk the multi-index, innermost axis fastest; strides may be negative.
  for (std::uint64_t remaining = a.size(); remaining > 0; --remaining) {
    std::memcpy(buffer.data() + used, element, itemsize);
    used += itemsize;
    if (used == buffer.size()) {
      sink(buffer.data(), used);
      used = 0;
    }
    for (std::size_t axis = nd; axis-- > 0;) {
      element += a.strides()[axis];
      if (++index[axis] < a.shape()[axis]) break;
      element -= a.strides()[axis] * static_cast<std::int64_t>(a.shape()[axis]);
      index[axis] = 0;
    }
  }
  if (used) sink(buffer.data(), used);
}

}  // namespace ndbridge::detail
