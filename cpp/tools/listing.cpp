#include "listing.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "values.hpp"

namespace ndbridge::tools {

namespace {

Json shape_json(const Shape& shape) {
  JsonArray out;
  for (const std::uint64_t n : shape) out.emplace_back(n);
  return out;
}

Json text_or_null(const std::string& text) { return text.empty() ? Json(nullptr) : Json(text); }

template <class T>
Json optional_json(const std::optional<T>& value) {
  return value ? Json(*value) : Json(nullptr);
}

JsonObject attribute_json(const AttributeDescription& a) {
  if (!a.value) {
    return {{"dtype", nullptr}, {"shape", nullptr}, {"preview", "(not readable by ndbridge: " + a.unreadable_reason + ")"}};
  }
  return {{"dtype", a.value->dtype().descr()}, {"shape", shape_json(a.value->shape())}, {"preview", preview(*a.value)}};
}

Json entry_json(const EntryDescription& e, FileFormat format) {
  const bool array = e.kind == EntryDescription::Kind::Array;
  JsonArray filters(e.filters.begin(), e.filters.end());
  JsonArray sources;
  for (const VirtualSourceDescription& s : e.virtual_sources) {
    sources.emplace_back(JsonObject{
        {"file", s.file}, {"dataset", s.dataset}, {"found", s.found.empty() ? Json(nullptr) : Json(s.found.string())}});
  }
  JsonObject attributes;
  for (const AttributeDescription& a : e.attributes) attributes.emplace_back(a.name, attribute_json(a));
  return JsonObject{
      {"name", format == FileFormat::Npy ? Json(nullptr) : Json(e.name)},
      {"kind", kind_name(e.kind)},
      {"dtype", e.dtype ? Json(e.dtype->descr()) : Json(nullptr)},
      {"shape", e.shape ? shape_json(*e.shape) : Json(nullptr)},
      {"readable", array ? Json(e.readable) : Json(nullptr)},
      {"unreadable_reason", array && !e.readable ? text_or_null(e.unreadable_reason) : Json(nullptr)},
      {"type", text_or_null(e.type)},
      {"fortran_order", optional_json(e.fortran_order)},
      {"layout", text_or_null(e.layout)},
      {"chunks", e.chunks ? shape_json(*e.chunks) : Json(nullptr)},
      {"filters", std::move(filters)},
      {"stored_bytes", optional_json(e.stored_bytes)},
      {"nbytes", optional_json(e.nbytes)},
      {"virtual_sources", std::move(sources)},
      {"error", text_or_null(e.error)},
      {"attributes", std::move(attributes)},
  };
}

std::string human(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes);
  const char* unit = "B";
  for (const char* next : {"KiB", "MiB", "GiB", "TiB"}) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f %s", value, unit);
  return buf;
}

std::string join(const Shape& items, const std::string& sep) {
  std::string out;
  for (const std::uint64_t item : items) out += (out.empty() ? "" : sep) + std::to_string(item);
  return out;
}

// "virtual over 4 files[, 1 MISSING: 'a', 'b', 'c' and 2 more]".
std::string virtual_text(const std::vector<VirtualSourceDescription>& sources) {
  std::vector<std::string> files, missing;
  for (const VirtualSourceDescription& s : sources) {
    if (std::find(files.begin(), files.end(), s.file) == files.end()) files.push_back(s.file);
    if (s.found.empty() && std::find(missing.begin(), missing.end(), s.file) == missing.end()) missing.push_back(s.file);
  }
  std::string out = "virtual over " + std::to_string(files.size()) + " file" + (files.size() != 1 ? "s" : "");
  if (!missing.empty()) {
    out += ", " + std::to_string(missing.size()) + " MISSING: ";
    for (std::size_t i = 0; i < std::min<std::size_t>(missing.size(), 3); ++i) out += (i ? ", '" : "'") + missing[i] + "'";
    if (missing.size() > 3) out += " and " + std::to_string(missing.size() - 3) + " more";
  }
  return out;
}

std::string storage(const EntryDescription& e) {
  std::vector<std::string> parts;
  if (e.fortran_order.value_or(false)) parts.push_back("Fortran order");
  if (e.chunks) {
    parts.push_back("chunks " + join(*e.chunks, "x"));
  } else if (e.layout == "virtual") {
    parts.push_back(virtual_text(e.virtual_sources));
  } else if (!e.layout.empty() && e.layout != "contiguous") {
    parts.push_back(e.layout);
  }
  if (!e.filters.empty()) {
    std::string f;
    for (const std::string& name : e.filters) f += (f.empty() ? "" : "+") + name;
    parts.push_back(f);
    if (e.stored_bytes) parts.push_back(human(*e.stored_bytes) + " stored");
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

// Width in characters (code points), for aligning columns.
std::size_t width(const std::string& s) {
  std::size_t n = 0;
  for (const unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

Json to_json(const FileDescription& d) {
  JsonArray entries;
  for (const EntryDescription& e : d.entries) entries.push_back(entry_json(e, d.format));
  return JsonObject{{"path", d.path.string()},
                    {"format", format_name(d.format)},
                    {"size", d.size},
                    {"entries", std::move(entries)}};
}

std::string format_listing(const FileDescription& d) {
  const bool hdf5 = d.format == FileFormat::Hdf5;
  const auto arrays = std::count_if(d.entries.begin(), d.entries.end(),
                                    [](const EntryDescription& e) { return e.kind == EntryDescription::Kind::Array; });
  std::string out = d.path.string() + ": " + (hdf5 ? "HDF5" : d.format == FileFormat::Npz ? ".npz" : ".npy") + ", " +
                    human(d.size) + ", " + std::to_string(arrays) + " array" + (arrays != 1 ? "s" : "");

  struct Row {
    std::string cells[4];
    std::vector<std::string> notes;
  };
  std::vector<Row> rows;
  for (const EntryDescription& e : d.entries) {
    const bool array = e.kind == EntryDescription::Kind::Array;
    std::size_t depth = 0;
    std::string label = e.name;
    if (!hdf5) {
      if (label.empty() && d.format == FileFormat::Npy) label = "(array)";
    } else if (e.name != "/") {
      depth = static_cast<std::size_t>(std::count(e.name.begin(), e.name.end(), '/'));
      label = std::string(2 * depth, ' ') + e.name.substr(e.name.rfind('/') + 1);
      if (e.kind == EntryDescription::Kind::Group) label += "/";
    }
    Row row;
    if (!e.error.empty()) {
      row = Row{{label, array ? "?" : kind_name(e.kind), array ? "?" : "", "cannot be opened: " + e.error}, {}};
    } else if (array) {
      std::string detail = storage(e);
      if (!e.readable) {
        detail = e.type + ": not readable by ndbridge";
      } else if (!e.dtype && !e.type.empty()) {
        detail = detail.empty() ? e.type : e.type + ", " + detail;
      }
      const std::string dtype = e.dtype ? e.dtype->descr() : e.readable ? "str" : "?";
      const std::string shape = !e.shape ? "null"
                                         : "(" + join(*e.shape, ", ") + (e.shape->size() == 1 ? ",)" : ")");
      row = Row{{label, dtype, shape, detail}, {}};
    } else {
      row = Row{{label, kind_name(e.kind), "", e.type}, {}};
    }
    for (const AttributeDescription& a : e.attributes) {
      const std::string text = a.value ? preview(*a.value) : "(not readable by ndbridge: " + a.unreadable_reason + ")";
      row.notes.push_back(std::string(2 * (depth + 1), ' ') + "@" + a.name + " = " + text);
    }
    rows.push_back(std::move(row));
  }
  std::size_t widths[3] = {0, 0, 0};
  for (const Row& r : rows)
    for (int i = 0; i < 3; ++i) widths[i] = std::max(widths[i], width(r.cells[i]));
  for (const Row& r : rows) {
    std::string line;
    for (int i = 0; i < 3; ++i) line += r.cells[i] + std::string(widths[i] - width(r.cells[i]), ' ') + "  ";
    line += r.cells[3];
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += "\n" + line;
    for (const auto& note : r.notes) out += "\n" + note;
  }
  return out;
}

}  // namespace ndbridge::tools
