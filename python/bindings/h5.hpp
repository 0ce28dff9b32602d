#pragma once

#include <pybind11/pybind11.h>

namespace ndbridge::python {

/// list_h5, read_h5, read_h5_rows, read_h5_attrs, write_h5.
void register_h5(pybind11::module_& m);

}  // namespace ndbridge::python
