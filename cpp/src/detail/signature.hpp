#pragma once

#include "detail/file.hpp"

namespace ndbridge::detail {

/// Whether `file` carries HDF5's signature at offset 0 or after a user
/// block of 512, 1024, 2048... bytes, the only places HDF5 puts it.
bool has_hdf5_signature(const File& file);

}  // namespace ndbridge::detail
