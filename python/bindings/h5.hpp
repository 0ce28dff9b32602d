#pragma once

#include <pybind11/pybind11.h>

namespace ndbridge::python {

/// H5File, list_h5, read_h5, read_h5_attrs, write_h5, append_h5_plugin_path.
void register_h5(pybind11::module_& m);

}  // namespace ndbridge::python
