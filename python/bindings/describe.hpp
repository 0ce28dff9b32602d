#pragma once

#include <pybind11/pybind11.h>

#include <vector>

#include "ndbridge/describe.hpp"

namespace ndbridge::python {

/// Each mapping as {"file", "dataset", "found"} ("found": None when the
/// source file is missing), as describe() and H5File.list() give them.
pybind11::list virtual_source_dicts(const std::vector<VirtualSourceDescription>& sources);

/// describe and detect_format.
void register_describe(pybind11::module_& m);

}  // namespace ndbridge::python
