#pragma once

#include <pybind11/pybind11.h>

namespace ndbridge::python {

/// read_npz, list_npz, write_npz, NpzReader.
void register_npz(pybind11::module_& m);

}  // namespace ndbridge::python
