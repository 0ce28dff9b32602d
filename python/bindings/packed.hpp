#pragma once

#include <pybind11/pybind11.h>

namespace ndbridge::python {

/// The submodule `packed`: the names of ndbridge/packed.hpp.
void register_packed(pybind11::module_& m);

}  // namespace ndbridge::python
