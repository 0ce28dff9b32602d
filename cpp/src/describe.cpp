#include "ndbridge/describe.hpp"

#include <algorithm>
#include <limits>

#include "detail/file.hpp"
#include "ndbridge/config.hpp"
#include "ndbridge/error.hpp"
#include "ndbridge/npy.hpp"
#include "ndbridge/npz.hpp"
#if NDBRIDGE_WITH_HDF5
#include "ndbridge/h5.hpp"
#endif

namespace ndbridge {

namespace {

// HDF5 dimensions come from the file and may multiply past 64 bits.
std::optional<std::uint64_t> nbytes(const DType& dtype, const Shape& shape) {
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  std::uint64_t n = dtype.itemsize();
  for (const std::uint64_t d : shape) {
    if (d != 0 && n > std::numeric_limits<std::uint64_t>::max() / d) return std::nullopt;
    n *= d;
  }
  return n;
}

EntryDescription npy_data(std::string name, const DType& dtype, const Shape& shape, bool fortran_order) {
  EntryDescription e;
  e.name = std::move(name);
  e.kind = EntryDescription::Kind::Array;
  e.dtype = dtype;
  e.shape = shape;
  e.readable = true;
  e.fortran_order = fortran_order;
  e.nbytes = nbytes(dtype, shape);
  return e;
}

std::vector<EntryDescription> npy_entries(const std::filesystem::path& path) {
  const NpyHeader header = read_npy_header(path);
  EntryDescription e = npy_data("", header.dtype, header.shape, header.fortran_order);
  e.stored_bytes = header.data_bytes;
  std::vector<EntryDescription> out;
  out.push_back(std::move(e));
  return out;
}

std::vector<EntryDescription> npz_entries(const std::filesystem::path& path) {
  std::vector<EntryDescription> out;
  for (const NpzMember& m : list_npz(path)) {
    EntryDescription e = npy_data(m.name, m.dtype, m.shape, m.fortran_order);
    if (m.compressed) e.filters.emplace_back("deflate");
    e.stored_bytes = m.compressed_size;
    out.push_back(std::move(e));
  }
  return out;
}

#if NDBRIDGE_WITH_HDF5
EntryDescription::Kind kind_of(H5Object::Kind kind) {
  switch (kind) {
    case H5Object::Kind::Group: return EntryDescription::Kind::Group;
    case H5Object::Kind::Dataset: return EntryDescription::Kind::Array;
    case H5Object::Kind::NamedType: return EntryDescription::Kind::NamedType;
    default: return EntryDescription::Kind::Other;
  }
}

// In list()'s order; a damaged attribute table leaves every name with the
// reason rather than failing the description.
std::vector<AttributeDescription> attributes(const H5File& file, const H5Object& object) {
  std::vector<AttributeDescription> out;
  if (object.attributes.empty()) return out;
  std::vector<std::pair<std::string, Array>> values;
  std::string failure;
  try {
    values = file.attributes(object.path);
  } catch (const Error& e) {
    failure = e.what();
  }
  for (const std::string& name : object.attributes) {
    AttributeDescription a;
    a.name = name;
    const auto read = std::find_if(values.begin(), values.end(), [&](const auto& v) { return v.first == name; });
    const auto why = std::find_if(object.unreadable_attributes.begin(), object.unreadable_attributes.end(),
                                  [&](const auto& u) { return u.first == name; });
    if (read != values.end()) {
      a.value = std::move(read->second);
    } else if (!failure.empty()) {
      a.unreadable_reason = failure;
    } else {
      a.unreadable_reason = why == object.unreadable_attributes.end() ? "unknown reason" : why->second;
    }
    out.push_back(std::move(a));
  }
  return out;
}

EntryDescription h5_entry(const H5File& file, const H5Object& o) {
  EntryDescription e;
  e.name = o.path;
  e.kind = kind_of(o.kind);
  if (!o.error.empty()) {
    e.error = o.error;
    e.unreadable_reason = o.error;
    return e;
  }
  e.type = o.type;
  e.attributes = attributes(file, o);
  if (o.kind != H5Object::Kind::Dataset) return e;
  e.dtype = o.dtype;
  if (!o.null_dataspace) {
    e.shape = o.shape;
    if (o.dtype) e.nbytes = nbytes(*o.dtype, o.shape);
  }
  e.readable = o.readable;
  e.unreadable_reason = o.unreadable_reason;
  e.layout = o.layout;
  e.chunks = o.chunks;
  e.filters = o.filters;
  e.stored_bytes = o.stored_bytes;
  e.virtual_sources = o.virtual_sources;
  return e;
}

std::vector<EntryDescription> h5_entries(const std::filesystem::path& path) {
  const H5File file = H5File::open(path);
  std::vector<EntryDescription> out;
  for (const H5Object& o : file.list()) out.push_back(h5_entry(file, o));
  return out;
}
#else
std::vector<EntryDescription> h5_entries(const std::filesystem::path& path) {
  throw UnsupportedError(detail::quote(path) + ": this build of ndbridge has no HDF5 support");
}
#endif

}  // namespace

const char* kind_name(EntryDescription::Kind kind) noexcept {
  switch (kind) {
    case EntryDescription::Kind::Array: return "array";
    case EntryDescription::Kind::Group: return "group";
    case EntryDescription::Kind::NamedType: return "datatype";
    case EntryDescription::Kind::Other: break;
  }
  return "other";
}

std::vector<std::pair<std::string, std::string>> FileDescription::missing_sources() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const EntryDescription& e : entries)
    for (const VirtualSourceDescription& s : e.virtual_sources)
      if (s.found.empty()) out.emplace_back(e.name, s.file);
  return out;
}

FileDescription describe(const std::filesystem::path& path) {
  FileDescription d;
  d.path = path;
  d.format = detect_format(path);
  d.size = detail::File::open_read(path).size_at_open();
  switch (d.format) {
    case FileFormat::Npy: d.entries = npy_entries(path); break;
    case FileFormat::Npz: d.entries = npz_entries(path); break;
    case FileFormat::Hdf5: d.entries = h5_entries(path); break;
  }
  return d;
}

}  // namespace ndbridge
