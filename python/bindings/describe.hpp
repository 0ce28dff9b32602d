#pragma once

#include <pybind11/pybind11.h>

namespace ndbridge::python {

/// describe and detect_format.
void register_describe(pybind11::module_& m);

}  // namespace ndbridge::python
