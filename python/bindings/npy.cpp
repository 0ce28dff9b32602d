#include "npy.hpp"

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <utility>

#include "convert.hpp"
#include "ndbridge/npy.hpp"

namespace py = pybind11;

namespace ndbridge::python {

void register_npy(py::module_& m) {
  m.def(
      "read_npy",
      [](const std::filesystem::path& path, bool mmap) {
        Array array = [&] {
          py::gil_scoped_release release;
          return mmap ? map_npy(path) : read_npy(path);
        }();
        return to_numpy(std::move(array));
      },
      py::arg("path"), py::arg("mmap"));
  m.def(
      "read_npy_rows",
      [](const std::filesystem::path& path, std::uint64_t start, std::uint64_t stop,
         bool mmap) -> py::array {
        if (!mmap) {
          Array rows = [&] {
            py::gil_scoped_release release;
            return read_npy_rows(path, start, stop);
          }();
          return to_numpy(std::move(rows));
        }
        Array mapped = [&] {
          py::gil_scoped_release release;
          return map_npy_rows(path, start, stop);
        }();
        return to_numpy(std::move(mapped));
      },
      py::arg("path"), py::arg("start"), py::arg("stop"), py::arg("mmap"));
  m.def(
      "read_npy_header",
      [](const std::filesystem::path& path) {
        NpyHeader h;
        {
          py::gil_scoped_release release;
          h = read_npy_header(path);
        }
        py::dict d;
        d["dtype"] = h.dtype.descr();
        d["shape"] = py::tuple(py::cast(h.shape));
        d["fortran_order"] = h.fortran_order;
        d["version"] = py::make_tuple(h.version_major, h.version_minor);
        d["data_offset"] = h.data_offset;
        d["data_bytes"] = h.data_bytes;
        return d;
      },
      py::arg("path"));
  m.def(
      "write_npy",
      [](const std::filesystem::path& path, const py::array& array) {
        const ArrayView view = from_numpy(array, quoted(path));
        py::gil_scoped_release release;
        write_npy(path, view);
      },
      py::arg("path"), py::arg("array"));
}

}  // namespace ndbridge::python
