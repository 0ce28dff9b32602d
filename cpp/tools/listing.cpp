#include "listing.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "formats.hpp"
#include "ndbridge/config.hpp"
#include "ndbridge/error.hpp"
#include "ndbridge/npy.hpp"
#include "ndbridge/npz.hpp"
#include "values.hpp"
#if NDBRIDGE_WITH_HDF5
#include "ndbridge/h5.hpp"
#endif

namespace ndbridge::tools {

namespace {

Json shape_json(const Shape& shape) {
  JsonArray out;
  for (std::uint64_t n : shape) out.emplace_back(n);
  return out;
}

// An entry with every key present, in the order the Python tool uses.
JsonObject entry(Json name, const char* kind) {
  return {{"name", std::move(name)}, {"kind", kind},          {"dtype", nullptr},
          {"shape", nullptr},        {"readable", nullptr},   {"type", nullptr},
          {"fortran_order", nullptr}, {"layout", nullptr},    {"chunks", nullptr},
          {"filters", JsonArray{}},  {"stored_bytes", nullptr}, {"nbytes", nullptr},
          {"virtual_sources", JsonArray{}}, {"error", nullptr},
          {"attributes", JsonObject{}}};
}

void set(JsonObject& object, const std::string& key, Json value) {
  for (auto& [k, v] : object)
    if (k == key) {
      v = std::move(value);
      return;
    }
  object.emplace_back(key, std::move(value));
}

// nbytes as the Python tool computes it: element count times itemsize.
Json nbytes(const DType& dtype, const Shape& shape) {
  std::uint64_t n = dtype.itemsize();
  for (std::uint64_t d : shape) n *= d;
  return n;
}

JsonArray npy_entries(const std::string& path) {
  const NpyHeader h = read_npy_header(path);
  JsonObject e = entry(nullptr, "array");
  set(e, "dtype", h.dtype.descr());
  set(e, "shape", shape_json(h.shape));
  set(e, "readable", true);
  set(e, "fortran_order", h.fortran_order);
  set(e, "stored_bytes", h.data_bytes);
  set(e, "nbytes", nbytes(h.dtype, h.shape));
  return {Json(std::move(e))};
}

JsonArray npz_entries(const std::string& path) {
  JsonArray out;
  for (const NpzMember& m : list_npz(path)) {
    JsonObject e = entry(m.name, "array");
    set(e, "dtype", m.dtype.descr());
    set(e, "shape", shape_json(m.shape));
    set(e, "readable", true);
    set(e, "fortran_order", m.fortran_order);
    set(e, "filters", m.compressed ? JsonArray{Json("deflate")} : JsonArray{});
    set(e, "stored_bytes", m.compressed_size);
    set(e, "nbytes", nbytes(m.dtype, m.shape));
    out.emplace_back(std::move(e));
  }
  return out;
}

#if NDBRIDGE_WITH_HDF5
const char* kind_name(H5Object::Kind kind) {
  switch (kind) {
    case H5Object::Kind::Group: return "group";
    case H5Object::Kind::Dataset: return "array";
    case H5Object::Kind::NamedType: return "datatype";
    default: return "other";
  }
}

JsonObject attributes(const H5File& file, const H5Object& object) {
  JsonObject out;
  if (object.attributes.empty()) return out;
  std::vector<std::pair<std::string, Array>> values;
  try {
    values = file.attributes(object.path);
  } catch (const Error& e) {
    const std::string why = std::string("(not readable by ndbridge: ") + e.what() + ")";
    for (const auto& name : object.attributes)
      out.emplace_back(name, JsonObject{{"dtype", nullptr}, {"shape", nullptr}, {"preview", why}});
    return out;
  }
  // In the listing's order; those the library does not read, with its reason.
  for (const auto& name : object.attributes) {
    const auto read = std::find_if(values.begin(), values.end(), [&](const auto& v) { return v.first == name; });
    if (read == values.end()) {
      const auto why = std::find_if(object.unreadable_attributes.begin(), object.unreadable_attributes.end(),
                                    [&](const auto& u) { return u.first == name; });
      const std::string reason = why == object.unreadable_attributes.end() ? "unknown reason" : why->second;
      out.emplace_back(name, JsonObject{{"dtype", nullptr}, {"shape", nullptr},
                                        {"preview", "(not readable by ndbridge: " + reason + ")"}});
      continue;
    }
    Array& value = read->second;
    const std::string dtype = value.dtype().descr();
    const Json shape = shape_json(value.shape());
    value.to_native_byte_order();
    out.emplace_back(name, JsonObject{{"dtype", dtype}, {"shape", shape}, {"preview", preview(value)}});
  }
  return out;
}

JsonArray h5_entries(const std::string& path) {
  const H5File file = H5File::open(path);
  JsonArray out;
  for (const H5Object& o : file.list()) {
    JsonObject e = entry(o.path, kind_name(o.kind));
    if (!o.error.empty()) {
      if (o.kind == H5Object::Kind::Dataset) set(e, "readable", false);
      set(e, "error", o.error);
      out.emplace_back(std::move(e));
      continue;
    }
    if (o.kind != H5Object::Kind::Dataset) {
      if (!o.type.empty()) set(e, "type", o.type);
    } else {
      if (o.dtype) set(e, "dtype", o.dtype->descr());
      if (!o.null_dataspace) {
        set(e, "shape", shape_json(o.shape));
        if (o.dtype) set(e, "nbytes", nbytes(*o.dtype, o.shape));
      }
      set(e, "readable", o.readable);
      set(e, "type", o.type);
      set(e, "layout", o.layout);
      if (o.chunks) set(e, "chunks", shape_json(*o.chunks));
      JsonArray filters(o.filters.begin(), o.filters.end());
      set(e, "filters", std::move(filters));
      JsonArray sources;
      for (const H5VirtualSource& source : o.virtual_sources) {
        sources.emplace_back(JsonObject{
            {"file", source.file},
            {"dataset", source.dataset},
            {"found", source.found.empty() ? Json(nullptr) : Json(source.found.string())}});
      }
      set(e, "virtual_sources", std::move(sources));
    }
    set(e, "attributes", attributes(file, o));
    out.emplace_back(std::move(e));
  }
  return out;
}
#else
[[noreturn]] JsonArray h5_entries(const std::string& path) {
  throw UnsupportedError(quote_path(path) + ": this build of ndbridge has no HDF5 support");
}
#endif

std::string human(const Json& size) {
  if (size.is_null()) return "?";
  const std::uint64_t bytes = size.uint();
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes);
  for (const char* unit : {"B", "KiB", "MiB", "GiB", "TiB"}) {
    if (value < 1024 || std::string(unit) == "TiB") {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.1f %s", value, unit);
      return buf;
    }
    value /= 1024;
  }
  return "?";
}

std::string join(const JsonArray& items, const std::string& sep) {
  std::string out;
  for (const Json& item : items)
    out += (out.empty() ? "" : sep) + (item.is_null() ? "null" : std::to_string(item.uint()));
  return out;
}

// "virtual over 4 files[, 1 MISSING: 'a', 'b', 'c' and 2 more]".
std::string virtual_text(const JsonArray& sources) {
  std::vector<std::string> files, missing;
  for (const Json& s : sources) {
    const std::string file = s["file"].str();
    if (std::find(files.begin(), files.end(), file) == files.end()) files.push_back(file);
    if (s["found"].is_null() && std::find(missing.begin(), missing.end(), file) == missing.end()) {
      missing.push_back(file);
    }
  }
  std::string out = "virtual over " + std::to_string(files.size()) + " file" + (files.size() != 1 ? "s" : "");
  if (!missing.empty()) {
    out += ", " + std::to_string(missing.size()) + " MISSING: ";
    for (std::size_t i = 0; i < std::min<std::size_t>(missing.size(), 3); ++i) {
      out += (i ? ", '" : "'") + missing[i] + "'";
    }
    if (missing.size() > 3) out += " and " + std::to_string(missing.size() - 3) + " more";
  }
  return out;
}

std::string storage(const Json& e) {
  std::vector<std::string> parts;
  if (!e["fortran_order"].is_null() && e["fortran_order"].boolean()) parts.push_back("Fortran order");
  if (!e["chunks"].is_null()) {
    parts.push_back("chunks " + join(e["chunks"].array(), "x"));
  } else if (!e["layout"].is_null() && e["layout"].str() == "virtual") {
    parts.push_back(virtual_text(e["virtual_sources"].array()));
  } else if (!e["layout"].is_null() && e["layout"].str() != "contiguous") {
    parts.push_back(e["layout"].str());
  }
  const JsonArray& filters = e["filters"].array();
  if (!filters.empty()) {
    std::string f;
    for (const Json& name : filters) f += (f.empty() ? "" : "+") + name.str();
    parts.push_back(f);
    if (!e["stored_bytes"].is_null()) parts.push_back(human(e["stored_bytes"]) + " stored");
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

std::string dtype_text(const Json& e) {
  if (!e["dtype"].is_null()) return e["dtype"].str();
  return e["readable"].boolean() ? "str" : "?";
}

std::string shape_text(const Json& e) {
  if (e["shape"].is_null()) return "null";
  const JsonArray& shape = e["shape"].array();
  return "(" + join(shape, ", ") + (shape.size() == 1 ? "," : "") + ")";
}

// Width in characters (code points), as Python's ljust counts.
std::size_t width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> missing_sources(const Json& doc) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Json& e : doc["entries"].array()) {
    for (const Json& s : e["virtual_sources"].array()) {
      if (s["found"].is_null()) out.emplace_back(e["name"].str(), s["file"].str());
    }
  }
  return out;
}

Json describe(const std::string& path) {
  const Format format = detect_format(path);
  JsonArray entries = format == Format::Npy   ? npy_entries(path)
                      : format == Format::Npz ? npz_entries(path)
                                              : h5_entries(path);
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return JsonObject{{"path", path},
                    {"format", format_name(format)},
                    {"size", ec ? Json(nullptr) : Json(static_cast<std::uint64_t>(size))},
                    {"entries", std::move(entries)}};
}

std::string format_listing(const Json& doc) {
  const std::string format = doc["format"].str();
  const bool hdf5 = format == "hdf5";
  std::size_t arrays = 0;
  for (const Json& e : doc["entries"].array()) arrays += e["kind"].str() == "array";
  std::string out = doc["path"].str() + ": " +
                    (hdf5 ? "HDF5" : format == "npz" ? ".npz" : ".npy") + ", " + human(doc["size"]) +
                    ", " + std::to_string(arrays) + " array" + (arrays != 1 ? "s" : "");

  struct Row {
    std::string cells[4];
    std::vector<std::string> notes;
  };
  std::vector<Row> rows;
  for (const Json& e : doc["entries"].array()) {
    Row row;
    std::size_t depth = 0;
    std::string label;
    const std::string kind = e["kind"].str();
    if (hdf5) {
      const std::string name = e["name"].str();
      if (name == "/") {
        label = "/";
      } else {
        for (char c : name) depth += c == '/';
        label = std::string(2 * depth, ' ') + name.substr(name.rfind('/') + 1);
        if (kind == "group") label += "/";
      }
    } else {
      label = e["name"].is_null() ? "(array)" : e["name"].str();
    }
    if (!e["error"].is_null()) {
      const bool array = kind == "array";
      row = Row{{label, array ? "?" : kind, array ? "?" : "", "cannot be opened: " + e["error"].str()}, {}};
    } else if (kind == "array") {
      std::string detail = storage(e);
      const std::string type = e["type"].is_null() ? "" : e["type"].str();
      if (!e["readable"].boolean()) {
        detail = type + ": not readable by ndbridge";
      } else if (e["dtype"].is_null() && !type.empty()) {
        detail = detail.empty() ? type : type + ", " + detail;
      }
      row = Row{{label, dtype_text(e), shape_text(e), detail}, {}};
    } else {
      row = Row{{label, kind, "", e["type"].is_null() ? "" : e["type"].str()}, {}};
    }
    for (const auto& [name, info] : e["attributes"].object())
      row.notes.push_back(std::string(2 * (depth + 1), ' ') + "@" + name + " = " + info["preview"].str());
    rows.push_back(std::move(row));
  }
  std::size_t widths[3] = {0, 0, 0};
  for (const Row& r : rows)
    for (int i = 0; i < 3; ++i) widths[i] = std::max(widths[i], width(r.cells[i]));
  for (const Row& r : rows) {
    std::string line;
    for (int i = 0; i < 3; ++i)
      line += r.cells[i] + std::string(widths[i] - width(r.cells[i]), ' ') + "  ";
    line += r.cells[3];
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += "\n" + line;
    for (const auto& note : r.notes) out += "\n" + note;
  }
  return out;
}

}  // namespace ndbridge::tools
