// ndbridge._core: the C++ library as seen from Python. It converts types and
// maps exceptions, nothing more; the documented API is ndbridge.cpp.
#include <pybind11/pybind11.h>

#include "describe.hpp"
#include "errors.hpp"
#include "h5.hpp"
#include "ndbridge/dtype.hpp"
#include "ndbridge/config.hpp"
#include "npy.hpp"
#include "npz.hpp"
#include "packed.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "ndbridge's C++ library (private; use ndbridge.cpp)";
  m.attr("__version__") = NDBRIDGE_VERSION_STRING;
  ndbridge::python::register_errors(m);
  ndbridge::python::register_npy(m);
  ndbridge::python::register_npz(m);
  ndbridge::python::register_packed(m);
#if NDBRIDGE_WITH_HDF5
  ndbridge::python::register_h5(m);
#endif
  ndbridge::python::register_describe(m);
  m.attr("with_hdf5") = static_cast<bool>(NDBRIDGE_WITH_HDF5);
  m.def(
      "canonical_descr",
      [](const std::string& descr) { return ndbridge::DType::from_descr(descr).descr(); },
      py::arg("descr"));
}
