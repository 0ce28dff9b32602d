#include "detail/allocate.hpp"

#include <cstdint>
#include <new>
#include <string>

#include "ndbridge/error.hpp"

namespace ndbridge::detail {

Array allocate_for(const DType& dtype, const Shape& shape, bool fortran_order,
                   const std::string& what) {
  try {
    return Array::uninitialized(dtype, shape, fortran_order ? MemoryOrder::Fortran : MemoryOrder::C);
  } catch (const std::bad_alloc&) {
    // Sizes were checked against the file before this: the data is real,
    // there is just not the memory (or address space) to hold it.
    std::uint64_t bytes = dtype.itemsize();
    for (const auto d : shape) bytes *= d;
    throw OutOfMemory("cannot allocate " + std::to_string(bytes) + " bytes to read " + what +
                      ": out of memory (read fewer rows at a time, or memory-map the file)");
  }
}

}  // namespace ndbridge::detail
