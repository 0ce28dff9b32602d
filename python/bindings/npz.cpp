#include "npz.hpp"

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "convert.hpp"
#include "guarded.hpp"
#include "ndbridge/error.hpp"
#include "ndbridge/npz.hpp"
#include "rows.hpp"

namespace py = pybind11;

namespace ndbridge::python {

namespace {

py::list member_dicts(const std::vector<NpzMember>& members) {
  py::list out;
  for (const NpzMember& member : members) {
    py::dict d;
    d["name"] = file_text(member.name);
    d["dtype"] = member.dtype.descr();
    d["shape"] = py::tuple(py::cast(member.shape));
    d["fortran_order"] = member.fortran_order;
    d["compressed"] = member.compressed;
    d["compressed_size"] = member.compressed_size;
    d["uncompressed_size"] = member.uncompressed_size;
    out.append(std::move(d));
  }
  return out;
}

NpzLimits limits_of(std::optional<std::uint64_t> max_bytes) {
  NpzLimits limits;
  if (max_bytes) limits.max_inflated_bytes = *max_bytes;
  return limits;
}

// A read of one member as `rows`, `mmap` and `out` ask.
py::array read_member(const NpzReader& reader, const std::string& name, const Rows& rows, bool mmap,
                      const py::object& out, const std::string& file) {
  if (out.is_none()) {
    if (mmap && rows.kind != Rows::Kind::Picked) {
      Array mapped = [&] {
        py::gil_scoped_release release;
        return reader.map(name);
      }();
      if (rows.kind == Rows::Kind::All) return to_numpy(std::move(mapped));
      const ArrayView view = mapped.rows(rows.start, rows.stop);
      return to_numpy(view, to_numpy(std::move(mapped)), false);
    }
    Array array = [&] {
      py::gil_scoped_release release;
      switch (rows.kind) {
        case Rows::Kind::All: return reader.read(name);
        case Rows::Kind::Range: return reader.read_rows(name, rows.start, rows.stop);
        default: return reader.read_rows(name, rows.picked());
      }
    }();
    return shaped(to_numpy(std::move(array)), rows);
  }
  const NpzMember member = [&] {
    py::gil_scoped_release release;
    return reader.member(name);
  }();
  const std::string what = file + " member '" + name + ".npy'";
  const Rows asked = rows_for_out(rows, member.shape, what, true);
  const OutBuffer buffer = out_buffer(out, member.dtype, result_shape(asked, member.shape), what);
  const auto size = static_cast<std::uint64_t>(out.cast<py::array>().nbytes());
  {
    py::gil_scoped_release release;
    reader.read_rows_into(name, asked.picked(), buffer.data, size, buffer.dtype);
  }
  return out.cast<py::array>();
}

}  // namespace

void register_npz(py::module_& m) {
  m.def(
      "read_npz",
      [](const std::filesystem::path& path, std::optional<std::uint64_t> max_bytes) {
        NpzArrays arrays = [&] {
          py::gil_scoped_release release;
          return read_npz(path, limits_of(max_bytes));
        }();
        py::dict out;
        for (auto& [name, array] : arrays) out[py::str(name)] = to_numpy(std::move(array));
        return out;
      },
      py::arg("path"), py::arg("max_bytes"));
  m.def(
      "list_npz",
      [](const std::filesystem::path& path) {
        const std::vector<NpzMember> members = [&] {
          py::gil_scoped_release release;
          return list_npz(path);
        }();
        return member_dicts(members);
      },
      py::arg("path"));
  m.def(
      "write_npz",
      [](const std::filesystem::path& path, const std::vector<std::pair<std::string, py::array>>& arrays,
         bool compress) {
        std::vector<std::pair<std::string, ArrayView>> views;
        views.reserve(arrays.size());
        for (const auto& [name, array] : arrays) {
          views.emplace_back(name, from_numpy(array, quoted(path) + " member '" + name + ".npy'"));
        }
        py::gil_scoped_release release;
        write_npz(path, views, compress ? NpzCompression::Deflated : NpzCompression::Stored);
      },
      py::arg("path"), py::arg("arrays"), py::arg("compress"));

  using OpenNpz = Guarded<NpzReader>;
  py::class_<OpenNpz>(m, "NpzReader")
      .def(py::init([](const std::filesystem::path& path, std::optional<std::uint64_t> max_bytes) {
             py::gil_scoped_release release;
             return std::make_unique<OpenNpz>(quoted(path), NpzReader(path, limits_of(max_bytes)));
           }),
           py::arg("path"), py::arg("max_bytes"))
      .def("names", [](OpenNpz& r) { return file_texts(r.use()->names()); })
      .def("__contains__", [](OpenNpz& r, const NameInFile& name) { return r.use()->contains(name.bytes); },
           py::arg("name"))
      .def("members", [](OpenNpz& r) {
        const auto reader = r.use();
        const std::vector<NpzMember> members = [&] {
          py::gil_scoped_release release;
          return reader->members();
        }();
        return member_dicts(members);
      })
      .def(
          "read",
          [](OpenNpz& r, const NameInFile& name, const py::object& rows, bool mmap, const py::object& out) {
            const Rows asked = parse_rows(rows, [&] { return r.name() + " member '" + name.bytes + ".npy'"; });
            return read_member(*r.use(), name.bytes, asked, mmap, out, r.name());
          },
          py::arg("name"), py::arg("rows"), py::arg("mmap"), py::arg("out"))
      .def(
          "extract",
          [](OpenNpz& r, const NameInFile& name, const std::filesystem::path& npy) {
            const auto reader = r.use();
            py::gil_scoped_release release;
            reader->extract(name.bytes, npy);
          },
          py::arg("name"), py::arg("npy"))
      .def("close", [](OpenNpz& r) {
        py::gil_scoped_release release;
        r.close();
      });
}

}  // namespace ndbridge::python
