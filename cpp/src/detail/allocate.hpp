#pragma once

#include <string>

#include "ndbridge/array.hpp"

namespace ndbridge::detail {

/// Array::uninitialized(), except that a failed allocation throws
/// OutOfMemory naming `what` (the file or dataset being read) and the size.
Array allocate_for(const DType& dtype, const Shape& shape, bool fortran_order,
                   const std::string& what);

}  // namespace ndbridge::detail
