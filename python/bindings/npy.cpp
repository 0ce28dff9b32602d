#include "npy.hpp"

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <memory>
#include <utility>

#include "convert.hpp"
#include "guarded.hpp"
#include "ndbridge/error.hpp"
#include "ndbridge/npy.hpp"
#include "rows.hpp"

namespace py = pybind11;

namespace ndbridge::python {

namespace {

py::array read_whole_or_range(const std::filesystem::path& path, bool mmap, const Rows& rows) {
  Array array = [&] {
    py::gil_scoped_release release;
    if (rows.kind == Rows::Kind::All) return mmap ? map_npy(path) : read_npy(path);
    return mmap ? map_npy_rows(path, rows.start, rows.stop) : read_npy_rows(path, rows.start, rows.stop);
  }();
  return to_numpy(std::move(array));
}

// A read of an open file as `rows` and `out` ask.
py::array read_as_asked(const NpyReader& reader, const Rows& rows, const py::object& out, const std::string& what) {
  if (out.is_none()) {
    Array array = [&] {
      py::gil_scoped_release release;
      switch (rows.kind) {
        case Rows::Kind::All: return reader.read();
        case Rows::Kind::Range: return reader.read_rows(rows.start, rows.stop);
        default: return reader.read_rows(rows.picked());
      }
    }();
    return shaped(to_numpy(std::move(array)), rows);
  }
  const NpyHeader& h = reader.header();
  const Rows asked = rows_for_out(rows, h.shape, what, true);
  const OutBuffer buffer = out_buffer(out, h.dtype, result_shape(asked, h.shape), what);
  const auto size = static_cast<std::uint64_t>(out.cast<py::array>().nbytes());
  {
    py::gil_scoped_release release;
    reader.read_rows_into(asked.picked(), buffer.data, size, buffer.dtype);
  }
  return out.cast<py::array>();
}

py::dict header_dict(const NpyHeader& h) {
  py::dict d;
  d["dtype"] = h.dtype.descr();
  d["shape"] = py::tuple(py::cast(h.shape));
  d["fortran_order"] = h.fortran_order;
  d["version"] = py::make_tuple(h.version_major, h.version_minor);
  d["data_offset"] = h.data_offset;
  d["data_bytes"] = h.data_bytes;
  return d;
}

}  // namespace

void register_npy(py::module_& m) {
  m.def(
      "read_npy",
      [](const std::filesystem::path& path, bool mmap, const py::object& rows) -> py::array {
        const Rows asked = parse_rows(rows, [&] { return quoted(path); });
        if (asked.kind != Rows::Kind::Picked) return read_whole_or_range(path, mmap, asked);
        const NpyReader reader = [&] {
          py::gil_scoped_release release;
          return NpyReader(path, mmap ? NpyAccess::Map : NpyAccess::Read);
        }();
        return read_as_asked(reader, asked, py::none(), quoted(path));
      },
      py::arg("path"), py::arg("mmap"), py::arg("rows"));
  m.def(
      "read_npy_header",
      [](const std::filesystem::path& path) {
        NpyHeader h;
        {
          py::gil_scoped_release release;
          h = read_npy_header(path);
        }
        return header_dict(h);
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

  using OpenNpy = Guarded<NpyReader>;
  py::class_<OpenNpy>(m, "NpyReader")
      .def(py::init([](const std::filesystem::path& path, bool mmap) {
             py::gil_scoped_release release;
             return std::make_unique<OpenNpy>(quoted(path), NpyReader(path, mmap ? NpyAccess::Map : NpyAccess::Read));
           }),
           py::arg("path"), py::arg("mmap"))
      .def("header", [](OpenNpy& r) { return header_dict(r.use()->header()); })
      .def(
          "read",
          [](OpenNpy& r, const py::object& rows, const py::object& out) {
            const Rows asked = parse_rows(rows, [&] { return r.name(); });
            return read_as_asked(*r.use(), asked, out, r.name());
          },
          py::arg("rows"), py::arg("out"))
      .def("close", [](OpenNpy& r) {
        py::gil_scoped_release release;
        r.close();
      });
}

}  // namespace ndbridge::python
