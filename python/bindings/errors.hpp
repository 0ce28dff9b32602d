#pragma once

#include <pybind11/pybind11.h>

namespace ndbridge::python {

/// Makes ndbridge's C++ exceptions arrive in Python as the classes defined in
/// ndbridge/_errors.py (FormatError is a ValueError, FileError an OSError...).
void register_errors(pybind11::module_& m);

}  // namespace ndbridge::python
