#pragma once

#include <pybind11/pybind11.h>

namespace ndbridge::python {

/// read_npy, read_npy_header, write_npy, NpyReader.
void register_npy(pybind11::module_& m);

}  // namespace ndbridge::python
