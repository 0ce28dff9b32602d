#include "npz.hpp"

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "convert.hpp"
#include "ndbridge/npz.hpp"

namespace py = pybind11;

namespace ndbridge::python {

void register_npz(py::module_& m) {
  m.def(
      "read_npz",
      [](const std::filesystem::path& path, std::optional<std::uint64_t> max_bytes) {
        NpzLimits limits;
        if (max_bytes) limits.max_inflated_bytes = *max_bytes;
        NpzArrays arrays = [&] {
          py::gil_scoped_release release;
          return read_npz(path, limits);
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
        py::list out;
        for (const NpzMember& member : members) {
          py::dict d;
          d["name"] = member.name;
          d["dtype"] = member.dtype.descr();
          d["shape"] = py::tuple(py::cast(member.shape));
          d["fortran_order"] = member.fortran_order;
          d["compressed"] = member.compressed;
          d["compressed_size"] = member.compressed_size;
          d["uncompressed_size"] = member.uncompressed_size;
          out.append(std::move(d));
        }
        return out;
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
}

}  // namespace ndbridge::python
