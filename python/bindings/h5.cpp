#include "h5.hpp"

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "convert.hpp"
#include "describe.hpp"
#include "guarded.hpp"
#include "ndbridge/error.hpp"
#include "ndbridge/h5.hpp"
#include "rows.hpp"

namespace py = pybind11;

namespace ndbridge::python {

namespace {

const char* kind_name(H5Object::Kind kind) {
  switch (kind) {
    case H5Object::Kind::Group: return "group";
    case H5Object::Kind::Dataset: return "dataset";
    case H5Object::Kind::NamedType: return "datatype";
    default: return "other";
  }
}

py::dict to_dict(const H5Object& o) {
  py::dict d;
  d["path"] = file_text(o.path);
  d["kind"] = kind_name(o.kind);
  d["attributes"] = file_texts(o.attributes);
  py::dict unreadable;
  for (const auto& [name, why] : o.unreadable_attributes) unreadable[file_text(name)] = file_text(why);
  d["unreadable_attributes"] = unreadable;
  d["error"] = text_or_none(o.error);
  if (o.kind == H5Object::Kind::Dataset && !o.error.empty()) {
    // Nothing but the kind is known of a dataset libhdf5 cannot open.
    for (const char* key : {"dtype", "type", "shape", "layout", "chunks"}) d[key] = py::none();
    d["readable"] = false;
    d["unreadable_reason"] = file_text(o.error);
    d["null_dataspace"] = false;
    d["filters"] = py::list();
    d["virtual_sources"] = py::list();
  } else if (o.kind == H5Object::Kind::Dataset) {
    d["dtype"] = o.dtype ? py::object(py::str(o.dtype->descr())) : py::object(py::none());
    d["readable"] = o.readable;
    d["unreadable_reason"] = text_or_none(o.unreadable_reason);
    d["type"] = file_text(o.type);
    d["shape"] = py::tuple(py::cast(o.shape));
    d["null_dataspace"] = o.null_dataspace;
    d["layout"] = o.layout;
    d["chunks"] = shape_or_none(o.chunks);
    d["filters"] = file_texts(o.filters);
    d["virtual_sources"] = virtual_source_dicts(o.virtual_sources);  // empty unless virtual
  } else if (!o.type.empty()) {
    d["type"] = file_text(o.type);
  }
  return d;
}


py::list list_objects(H5File& file) {
  std::vector<H5Object> objects;
  {
    py::gil_scoped_release release;
    objects = file.list();
  }
  py::list out;
  for (const auto& o : objects) out.append(to_dict(o));
  return out;
}

py::array read_dataset(H5File& file, const std::string& dataset) {
  Array array = [&] {
    py::gil_scoped_release release;
    return file.read(dataset);
  }();
  return to_numpy(std::move(array));
}

py::array read_dataset_rows(H5File& file, const std::string& dataset, std::uint64_t start,
                            std::uint64_t stop) {
  Array array = [&] {
    py::gil_scoped_release release;
    return file.read_rows(dataset, start, stop);
  }();
  return to_numpy(std::move(array));
}

// Rows of a dataset with a fixed-size dtype go straight into a new numpy
// array: no intermediate Array, capsule or second allocation, which small
// row reads notice. Anything else (variable-length strings, bad ranges,
// which then raise the library's own error) takes read_dataset_rows.
py::array read_rows_to_numpy(H5File& file, const std::string& dataset, std::uint64_t start,
                             std::uint64_t stop, const H5ReadInfo& info) {
  if (!info.dtype || info.shape.empty() || start > stop || stop > info.shape[0]) {
    return read_dataset_rows(file, dataset, start, stop);
  }
  std::vector<py::ssize_t> shape(info.shape.begin(), info.shape.end());
  shape[0] = static_cast<py::ssize_t>(stop - start);
  py::array out(numpy_dtype(*info.dtype), std::move(shape));
  void* buffer = out.mutable_data();
  const auto size = static_cast<std::uint64_t>(out.nbytes());
  {
    py::gil_scoped_release release;
    file.read_rows_into(dataset, start, stop, buffer, size);
  }
  return out;
}

H5ReadInfo read_info(H5File& file, const std::string& dataset) {
  py::gil_scoped_release release;
  return file.read_info(dataset);
}

py::dict read_attributes(H5File& file, const std::string& object) {
  std::vector<std::pair<std::string, Array>> attributes;
  {
    py::gil_scoped_release release;
    attributes = file.attributes(object);
  }
  py::dict out;
  for (auto& [name, value] : attributes) out[file_text(name)] = to_numpy(std::move(value));
  return out;
}

// A read as `rows` and `out` ask. Ranges and picked rows of a fixed-size
// dtype go straight into a new numpy array, or into `out`.
py::array read_as_asked(H5File& file, const std::string& dataset, const Rows& rows, const py::object& out) {
  if (rows.kind == Rows::Kind::All && out.is_none()) return read_dataset(file, dataset);
  const H5ReadInfo info = read_info(file, dataset);
  if (out.is_none() && rows.kind == Rows::Kind::Range) {
    return read_rows_to_numpy(file, dataset, rows.start, rows.stop, info);
  }
  if (out.is_none() && (!info.dtype || info.shape.empty())) {
    Array array = [&] {
      py::gil_scoped_release release;
      return file.read_rows(dataset, rows.picked());
    }();
    return shaped(to_numpy(std::move(array)), rows);
  }
  const std::string what = quoted(file.path()) + ": dataset '" + dataset + "'";
  if (!info.dtype) throw UsageError(what + ": variable-length strings have no fixed size to read into out");
  const Rows asked = out.is_none() ? rows : rows_for_out(rows, info.shape, what, false);
  const Shape shape = result_shape(asked, info.shape);
  py::array target = out.is_none() ? py::array(numpy_dtype(*info.dtype), std::vector<py::ssize_t>(shape.begin(), shape.end()))
                                   : out.cast<py::array>();
  const OutBuffer buffer =
      out.is_none() ? OutBuffer{target.mutable_data(), *info.dtype} : out_buffer(out, *info.dtype, shape, what);
  const auto size = static_cast<std::uint64_t>(target.nbytes());
  {
    py::gil_scoped_release release;
    if (asked.kind == Rows::Kind::Range) {
      file.read_rows_into(dataset, asked.start, asked.stop, buffer.data, size, buffer.dtype);
    } else {
      file.read_rows_into(dataset, asked.picked(), buffer.data, size, buffer.dtype);
    }
  }
  return target;
}

H5File open_file(const std::filesystem::path& path) {
  py::gil_scoped_release release;
  return H5File::open(path);
}

}  // namespace

void register_h5(py::module_& m) {
  using OpenH5 = Guarded<H5File>;
  m.attr("hdf5_version") = py::make_tuple(kHdf5Version.major, kHdf5Version.minor, kHdf5Version.release);
  py::class_<OpenH5>(m, "H5File")
      .def(py::init([](const std::filesystem::path& path) {
             py::gil_scoped_release release;
             return std::make_unique<OpenH5>(quoted(path), H5File::open(path));
           }),
           py::arg("path"))
      .def("list", [](OpenH5& f) { return list_objects(*f.use()); })
      .def(
          "__contains__",
          [](OpenH5& f, const NameInFile& path) {
            const auto file = f.use();
            py::gil_scoped_release release;
            return file->contains(path.bytes);
          },
          py::arg("path"))
      // rows= is parsed here rather than in Python: small row reads are a
      // hot path, and every Python frame costs a microsecond.
      .def(
          "read",
          [](OpenH5& f, const NameInFile& d, const py::object& rows, const py::object& out) {
            const Rows asked = parse_rows(rows, [&] { return f.name() + ": dataset '" + d.bytes + "'"; });
            return read_as_asked(*f.use(), d.bytes, asked, out);
          },
          py::arg("dataset"), py::kw_only(), py::arg("rows") = py::none(), py::arg("out") = py::none(),
          "A whole dataset, rows (start, stop) of it or the rows at an index array, as read_h5 reads them.")
      .def("read_rows",
           [](OpenH5& f, const NameInFile& d, std::uint64_t start, std::uint64_t stop) {
             const auto file = f.use();
             return read_rows_to_numpy(*file, d.bytes, start, stop, read_info(*file, d.bytes));
           },
           py::arg("dataset"), py::arg("start"), py::arg("stop"))
      .def("attributes", [](OpenH5& f, const NameInFile& o) { return read_attributes(*f.use(), o.bytes); },
           py::arg("object"))
      .def("close", [](OpenH5& f) {
        py::gil_scoped_release release;
        f.close();
      });
  m.def("append_h5_plugin_path", &h5_append_plugin_path, py::arg("folder"));
  m.def(
      "list_h5",
      [](const std::filesystem::path& path) {
        H5File file = open_file(path);
        return list_objects(file);
      },
      py::arg("path"));
  m.def(
      "read_h5",
      [](const std::filesystem::path& path, const NameInFile& dataset, const py::object& rows) {
        const Rows asked = parse_rows(rows, [&] { return quoted(path) + ": dataset '" + dataset.bytes + "'"; });
        H5File file = open_file(path);
        return read_as_asked(file, dataset.bytes, asked, py::none());
      },
      py::arg("path"), py::arg("dataset"), py::arg("rows"));
  m.def(
      "read_h5_attrs",
      [](const std::filesystem::path& path, const NameInFile& object) {
        H5File file = open_file(path);
        return read_attributes(file, object.bytes);
      },
      py::arg("path"), py::arg("object"));
  m.def(
      "write_h5",
      [](const std::filesystem::path& path, const std::string& dataset, const py::array& array,
         std::optional<Shape> chunks, const std::string& compression, int level, bool shuffle,
         bool fletcher32, const std::vector<std::pair<std::string, py::array>>& attrs,
         const std::string& mode) {
        const std::string where = quoted(path);
        const H5WriteMode write_mode = mode == "create"      ? H5WriteMode::Create
                                       : mode == "overwrite" ? H5WriteMode::Overwrite
                                       : mode == "append"    ? H5WriteMode::Append
                                                             : throw UsageError(where + ": unknown mode '" + mode +
                                                                                "' (use create, overwrite or append)");
        const ArrayView data = from_numpy(array, where);
        std::vector<std::pair<std::string, ArrayView>> attribute_views;
        for (const auto& [name, value] : attrs) attribute_views.emplace_back(name, from_numpy(value, where));
        H5DatasetOptions options;
        options.chunks = std::move(chunks);
        try {
          options.compression = h5_compression(compression);
        } catch (const UsageError& e) {
          throw UsageError(where + ": " + e.what());
        }
        options.gzip_level = level;
        options.shuffle = shuffle;
        options.fletcher32 = fletcher32;
        py::gil_scoped_release release;
        H5Writer writer(path, write_mode);
        writer.write(dataset, data, options);
        for (const auto& [name, value] : attribute_views) writer.set_attribute(dataset, name, value);
        writer.commit();
      },
      py::arg("path"), py::arg("dataset"), py::arg("array"), py::arg("chunks"),
      py::arg("compression"), py::arg("level"), py::arg("shuffle"), py::arg("fletcher32"),
      py::arg("attrs"), py::arg("mode"));
}

}  // namespace ndbridge::python
