#include "describe.hpp"

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "convert.hpp"
#include "ndbridge/describe.hpp"
#include "ndbridge/format.hpp"

namespace py = pybind11;

namespace ndbridge::python {

namespace {

template <class T>
py::object optional(const std::optional<T>& value) {
  return value ? py::cast(*value) : py::none();
}

py::dict entry_dict(EntryDescription& e, FileFormat format) {
  const bool array = e.kind == EntryDescription::Kind::Array;
  py::dict d;
  d["name"] = format == FileFormat::Npy ? py::object(py::none()) : py::object(file_text(e.name));
  d["kind"] = kind_name(e.kind);
  d["dtype"] = e.dtype ? py::object(py::str(e.dtype->descr())) : py::object(py::none());
  d["shape"] = shape_or_none(e.shape);
  d["readable"] = array ? py::object(py::bool_(e.readable)) : py::object(py::none());
  d["unreadable_reason"] = array && !e.readable ? text_or_none(e.unreadable_reason) : py::object(py::none());
  d["type"] = text_or_none(e.type);
  d["fortran_order"] = optional(e.fortran_order);
  d["layout"] = text_or_none(e.layout);
  d["chunks"] = shape_or_none(e.chunks);
  d["filters"] = file_texts(e.filters);
  d["stored_bytes"] = optional(e.stored_bytes);
  d["nbytes"] = optional(e.nbytes);
  d["virtual_sources"] = virtual_source_dicts(e.virtual_sources);
  d["error"] = text_or_none(e.error);
  py::dict attributes;
  for (AttributeDescription& a : e.attributes) {
    py::dict attribute;
    attribute["value"] = a.value ? py::object(to_numpy(std::move(*a.value))) : py::object(py::none());
    attribute["unreadable_reason"] = a.value ? py::object(py::none()) : py::object(file_text(a.unreadable_reason));
    attributes[file_text(a.name)] = attribute;
  }
  d["attributes"] = attributes;
  return d;
}

}  // namespace

py::list virtual_source_dicts(const std::vector<VirtualSourceDescription>& sources) {
  py::list out;
  for (const VirtualSourceDescription& s : sources) {
    py::dict source;
    source["file"] = file_text(s.file);
    source["dataset"] = file_text(s.dataset);
    source["found"] = text_or_none(s.found.string());
    out.append(source);
  }
  return out;
}

void register_describe(py::module_& m) {
  m.def(
      "describe",
      [](const std::filesystem::path& path) {
        FileDescription description = [&] {
          py::gil_scoped_release release;
          return describe(path);
        }();
        py::dict d;
        d["path"] = file_text(description.path.string());
        d["format"] = format_name(description.format);
        d["size"] = description.size;
        py::list entries;
        for (EntryDescription& e : description.entries) entries.append(entry_dict(e, description.format));
        d["entries"] = entries;
        return d;
      },
      py::arg("path"));
  m.def(
      "detect_format",
      [](const std::filesystem::path& path) {
        py::gil_scoped_release release;
        return format_name(detect_format(path));
      },
      py::arg("path"));
}

}  // namespace ndbridge::python
