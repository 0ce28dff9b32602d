#include "ndbridge/h5.hpp"

#include <hdf5.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "detail/allocate.hpp"
#include "detail/atomic_output.hpp"
#include "detail/byte_order.hpp"
#include "detail/file.hpp"
#include "detail/h5_guard.hpp"
#include "detail/gather.hpp"
#include "detail/h5_call.hpp"
#include "detail/h5_chunks.hpp"
#include "detail/h5_filters.hpp"
#include "detail/h5_plugins.hpp"
#include "detail/h5_types.hpp"
#include "detail/h5_virtual.hpp"
#include "detail/mapping.hpp"
#include "detail/row_gather.hpp"
#include "detail/signature.hpp"
#include "detail/text.hpp"
#include "detail/utf8.hpp"
#include "ndbridge/error.hpp"

namespace ndbridge {

using detail::check;
using detail::check_tri;
using detail::has_hdf5_signature;
using detail::Handle;
using detail::own;

namespace {

std::string object_name(const std::string& object) {
  return "'" + detail::printable(object, 200) + "'";
}

// True when every component of `object` exists, checked one link at a time
// (H5Lexists on "a/b" fails outright when "a" is missing or not a group).
bool object_exists(hid_t file, const std::string& object, const std::string& file_name) {
  std::string prefix;
  std::size_t pos = 0;
  while (pos < object.size()) {
    std::size_t next = object.find('/', pos);
    if (next == std::string::npos) next = object.size();
    if (next > pos) {
      if (!prefix.empty()) {
        // Only a group can have members: "/a/b" with "/a" a dataset is absent.
        const Handle parent = own(H5Oopen(file, prefix.c_str(), H5P_DEFAULT),
                                  file_name + ": cannot open " + object_name(prefix));
        if (H5Iget_type(parent.get()) != H5I_GROUP) return false;
      }
      prefix += "/" + object.substr(pos, next - pos);
      const std::string what = file_name + ": cannot look up " + object_name(prefix);
      if (!check_tri(H5Lexists(file, prefix.c_str(), H5P_DEFAULT), what)) return false;
      // A dangling soft or external link exists as a link but not as an object.
      if (!check_tri(H5Oexists_by_name(file, prefix.c_str(), H5P_DEFAULT), what)) return false;
    }
    pos = next + 1;
  }
  return true;
}

// The first enclosing path of `object` that exists but is not a group, which
// makes `object` impossible to create; empty when there is none.
std::string non_group_parent(hid_t file, const std::string& object, const std::string& file_name) {
  std::string prefix;
  for (std::size_t next = object.find('/', 1); next != std::string::npos;
       next = object.find('/', next + 1)) {
    prefix = object.substr(0, next);
    if (prefix.empty() || prefix == "/") continue;
    if (!object_exists(file, prefix, file_name)) return {};
    const Handle parent = own(H5Oopen(file, prefix.c_str(), H5P_DEFAULT),
                              file_name + ": cannot open " + object_name(prefix));
    if (H5Iget_type(parent.get()) != H5I_GROUP) return prefix;
  }
  return {};
}

Handle open_object(hid_t file, const std::string& object, const std::string& file_name) {
  if (!object_exists(file, object, file_name)) {
    throw NotFoundError(file_name + ": no object named " + object_name(object));
  }
  return own(H5Oopen(file, object.c_str(), H5P_DEFAULT),
             file_name + ": cannot open " + object_name(object));
}

Handle open_dataset(hid_t file, const std::string& name, const std::string& file_name) {
  Handle object = open_object(file, name, file_name);
  if (H5Iget_type(object.get()) != H5I_DATASET) {
    throw NotFoundError(file_name + ": " + object_name(name) + " is a group, not a dataset");
  }
  return object;
}

std::string filter_name(H5Z_filter_t id, const std::string& hdf5_name) {
  switch (id) {
    case H5Z_FILTER_DEFLATE: return "gzip";
    case H5Z_FILTER_SHUFFLE: return "shuffle";
    case H5Z_FILTER_FLETCHER32: return "fletcher32";
    case H5Z_FILTER_SZIP: return "szip";
    case H5Z_FILTER_NBIT: return "nbit";
    case H5Z_FILTER_SCALEOFFSET: return "scaleoffset";
    case 32000: return "lzf";
    default: return "filter " + std::to_string(id) + (hdf5_name.empty() ? "" : " (" + hdf5_name + ")");
  }
}

herr_t collect_attribute(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

// The order h5py lists an object's attributes in: creation order where the
// object tracks it (netCDF-4 files, h5py's track_order=True), else names.
H5_index_t attribute_order(hid_t object) {
  Handle ocpl;
  switch (H5Iget_type(object)) {
    case H5I_GROUP: ocpl = Handle(H5Gget_create_plist(object)); break;
    case H5I_DATASET: ocpl = Handle(H5Dget_create_plist(object)); break;
    case H5I_DATATYPE: ocpl = Handle(H5Tget_create_plist(object)); break;
    default: return H5_INDEX_NAME;
  }
  unsigned flags = 0;
  if (ocpl.get() < 0 || H5Pget_attr_creation_order(ocpl.get(), &flags) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return H5_INDEX_NAME;
  }
  return (flags & H5P_CRT_ORDER_TRACKED) != 0 ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
}

std::vector<std::string> attribute_names(hid_t object, const std::string& what) {
  std::vector<std::string> names;
  hsize_t index = 0;
  check(H5Aiterate2(object, attribute_order(object), H5_ITER_INC, &index, collect_attribute, &names),
        what + ": cannot list attributes");
  return names;
}

// Why ndbridge does not read attribute `name` of `object`; empty when it
// does.
std::string attribute_refusal(hid_t object, const std::string& name, const std::string& what) {
  const Handle attr = own(H5Aopen(object, name.c_str(), H5P_DEFAULT), what + ": cannot open");
  const Handle type = own(H5Aget_type(attr.get()), what + ": cannot read the type");
  const detail::H5TypeInfo info = detail::describe_h5_type(type.get());
  if (info.readable()) return {};
  return "holds " + info.description + " elements, which ndbridge does not read";
}

// Dimensions of a dataspace; sets `is_null` for H5S_NULL.
Shape extent(hid_t space, bool& is_null, const std::string& what) {
  is_null = false;
  const H5S_class_t cls = H5Sget_simple_extent_type(space);
  if (cls == H5S_NO_CLASS) detail::throw_h5(what + ": cannot read the dataspace");
  if (cls == H5S_NULL) {
    is_null = true;
    return {};
  }
  if (cls == H5S_SCALAR) return {};
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) detail::throw_h5(what + ": cannot read the dataspace");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (H5Sget_simple_extent_dims(space, dims.data(), nullptr) < 0) {
    detail::throw_h5(what + ": cannot read the dataspace");
  }
  return Shape(dims.begin(), dims.end());
}

Handle memory_space(const Shape& shape, const std::string& what) {
  if (shape.empty()) return own(H5Screate(H5S_SCALAR), what);
  const std::vector<hsize_t> dims(shape.begin(), shape.end());
  return own(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), what);
}

// A unicode array of `shape` holding `texts`, `widest` characters wide.
Array unicode_array(const std::vector<std::u32string>& texts, std::size_t widest, const Shape& shape) {
  Array out = Array::uninitialized(DType(Kind::Unicode, 4 * widest, native_byte_order()), shape);
  auto* cells = reinterpret_cast<char32_t*>(out.mutable_bytes());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    std::copy(texts[i].begin(), texts[i].end(), cells + i * widest);
    std::fill(cells + i * widest + texts[i].size(), cells + (i + 1) * widest, U'\0');
  }
  return out;
}

// Reads HDF5 variable-length strings into pointers, then into a unicode
// array as wide as the longest string, or, when some string is not UTF-8
// (whatever character set the file names), into a bytes array holding them
// as stored, as h5py gives bytes it cannot decode. The pointers are always
// reclaimed.
Array read_vlen_strings(const detail::H5TypeInfo& info, const Shape& shape, hid_t mem_space,
                        const std::function<herr_t(hid_t, void*)>& read, const std::string& what) {
  const Handle mem_type = detail::h5_vlen_string_type(info.cset);
  const std::uint64_t count = checked_element_count(shape, sizeof(char*), what);
  std::vector<char*> pointers(static_cast<std::size_t>(count), nullptr);
  if (count == 0) return Array::uninitialized(DType(Kind::Unicode, 4, native_byte_order()), shape);
  // Before the read: a read that fails part way (or is made in several
  // slabs) may have allocated some of the strings already.
  struct Reclaim {
    hid_t type, space;
    std::vector<char*>& p;
    ~Reclaim() {
#if H5_VERSION_GE(1, 12, 0)
      H5Treclaim(type, space, H5P_DEFAULT, p.data());
#else
      H5Dvlen_reclaim(type, space, H5P_DEFAULT, p.data());
#endif
    }
  } reclaim{mem_type.get(), mem_space, pointers};
  check(read(mem_type.get(), pointers.data()), what + ": cannot read");
  std::vector<std::u32string> texts(pointers.size());
  std::size_t widest = 1;
  bool utf8 = true;
  for (std::size_t i = 0; i < pointers.size() && utf8; ++i) {
    if (pointers[i] == nullptr) continue;
    utf8 = detail::utf8_to_utf32(pointers[i], texts[i]);
    widest = std::max(widest, texts[i].size());
  }
  if (!utf8) {
    std::size_t longest = 1;
    for (const char* p : pointers) longest = std::max(longest, p ? std::strlen(p) : 0);
    Array out = Array::uninitialized(DType(Kind::Bytes, longest, ByteOrder::NotApplicable), shape);
    auto* cells = reinterpret_cast<char*>(out.mutable_bytes());
    std::fill(cells, cells + pointers.size() * longest, '\0');
    for (std::size_t i = 0; i < pointers.size(); ++i) {
      if (pointers[i] != nullptr) std::memcpy(cells + i * longest, pointers[i], std::strlen(pointers[i]));
    }
    return out;
  }
  return unicode_array(texts, widest, shape);
}

// Reads object references and turns each into the path of the object it
// refers to (h5py's f[ref].name); a null reference is "". `location` is
// any object of the file.
Array read_object_paths(hid_t location, const Shape& shape, hid_t mem_space,
                        const std::function<herr_t(hid_t, hid_t, void*)>& read, const std::string& what) {
  const std::uint64_t count = checked_element_count(shape, sizeof(hobj_ref_t), what);
  std::vector<hobj_ref_t> refs(static_cast<std::size_t>(count), 0);
  if (count != 0) check(read(H5T_STD_REF_OBJ, mem_space, refs.data()), what + ": cannot read");
  std::vector<std::u32string> paths(refs.size());
  std::size_t widest = 1;
  std::string name;
  for (std::size_t i = 0; i < refs.size(); ++i) {
    if (refs[i] == 0) continue;
    const ssize_t size = H5Rget_name(location, H5R_OBJECT, &refs[i], nullptr, 0);
    if (size < 0) detail::throw_h5(what + ": element " + std::to_string(i) + " refers to no object");
    name.assign(static_cast<std::size_t>(size) + 1, '\0');
    if (H5Rget_name(location, H5R_OBJECT, &refs[i], name.data(), name.size()) < 0) {
      detail::throw_h5(what + ": element " + std::to_string(i) + " refers to no object");
    }
    name.resize(static_cast<std::size_t>(size));
    if (!detail::utf8_to_utf32(name.c_str(), paths[i])) {
      throw FormatError(what + ": element " + std::to_string(i) + " refers to an object whose path is not UTF-8: \"" +
                        detail::printable(name) + "\"");
    }
    widest = std::max(widest, paths[i].size());
  }
  return unicode_array(paths, widest, shape);
}

// Reads elements of a dataset or attribute whose selection has `shape`;
// `location` is the dataset or attribute.
Array read_elements(hid_t location, hid_t file_type, const detail::H5TypeInfo& info, const Shape& shape,
                    const std::function<herr_t(hid_t mem_type, hid_t mem_space, void*)>& read,
                    const std::string& what) {
  if (!info.readable()) {
    throw UnsupportedError(what + " holds " + info.description +
                           " elements, which ndbridge does not read");
  }
  const Handle space = memory_space(shape, what);
  if (info.vlen_string) {
    return read_vlen_strings(
        info, shape, space.get(), [&](hid_t t, void* buf) { return read(t, space.get(), buf); }, what);
  }
  if (info.object_reference) return read_object_paths(location, shape, space.get(), read, what);
  Array out = detail::allocate_for(*info.dtype, shape, false, what);
  if (out.size() == 0) return out;
  const Handle mem_type = detail::h5_memory_type(file_type, info);
  check(read(mem_type.get(), space.get(), out.mutable_bytes()), what + ": cannot read");
  detail::unpad_strings(info, out.mutable_bytes(), out.size());
  return out;
}

// Throws FormatError when `shape` elements of `element_size` bytes (as the
// file stores them) cannot all be in a file of `file_size` bytes.
void require_in_file(const Shape& shape, std::size_t element_size, std::uint64_t file_size,
                     const std::string& what) {
  const std::uint64_t elements = checked_element_count(shape, std::max<std::size_t>(element_size, 1), what);
  if (elements > file_size / std::max<std::size_t>(element_size, 1)) {
    throw FormatError(what + " declares " + std::to_string(elements) + " elements of " +
                      std::to_string(element_size) + " bytes, more than the file (" +
                      std::to_string(file_size) + " bytes) can hold");
  }
}

// What HDF5 itself refuses when a chunked dataset is created, checked again
// when one is read: libhdf5 1.10 does not, and reading a dataset whose
// chunks are larger than its fixed extent, or whose pipeline names the
// reserved filter 0, copies past the end of its own chunk buffer.
void check_chunk_layout(hid_t dcpl, hid_t space, const std::string& what) {
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) detail::throw_h5(what + ": cannot read the dataspace");
  if (rank == 0) {
    // A scalar cannot be chunked; 1.10 reads one as chunks over whatever
    // extent the chunk dimensions suggest, building a record per chunk
    // until memory runs out.
    throw FormatError(what + " is a scalar stored in chunks (damaged layout)");
  }
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank)), maxdims(dims.size());
  check(H5Sget_simple_extent_dims(space, dims.data(), maxdims.data()), what + ": cannot read the dataspace");
  std::vector<hsize_t> chunk(dims.size() + 1);
  const int chunk_rank = H5Pget_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
  if (chunk_rank != rank) {
    throw FormatError(what + " has " + std::to_string(rank) + " dimensions but chunks of " +
                      std::to_string(chunk_rank) + " (damaged layout)");
  }
  for (std::size_t k = 0; k < dims.size(); ++k) {
    if (chunk[k] == 0 || (maxdims[k] != H5S_UNLIMITED && chunk[k] > maxdims[k])) {
      throw FormatError(what + ": chunk dimension " + std::to_string(k) + " is " + std::to_string(chunk[k]) +
                        ", outside 1.." + std::to_string(maxdims[k]) +
                        " of the dataset's fixed extent (damaged layout)");
    }
  }
  const int filters = H5Pget_nfilters(dcpl);
  for (int k = 0; k < filters; ++k) {
    unsigned flags = 0;
    std::size_t count = 0;
    const H5Z_filter_t id = H5Pget_filter2(dcpl, static_cast<unsigned>(k), &flags, &count, nullptr, 0,
                                           nullptr, nullptr);
    if (id <= 0) {
      throw FormatError(what + ": filter " + std::to_string(k) + " of its pipeline has the reserved id " +
                        std::to_string(id) + " (damaged filter pipeline)");
    }
  }
}

std::string layout_name(H5D_layout_t layout) {
  switch (layout) {
    case H5D_COMPACT: return "compact";
    case H5D_CONTIGUOUS: return "contiguous";
    case H5D_CHUNKED: return "chunked";
    case H5D_VIRTUAL: return "virtual";
    default: return "unknown";
  }
}

H5Object describe(hid_t object, const std::string& path, const std::string& file_name,
                  const detail::VirtualOrigin& origin) {
  const std::string what = file_name + ": " + object_name(path);
  H5Object out;
  out.path = path;
  switch (H5Iget_type(object)) {
    case H5I_GROUP: out.kind = H5Object::Kind::Group; break;
    case H5I_DATASET: out.kind = H5Object::Kind::Dataset; break;
    case H5I_DATATYPE: out.kind = H5Object::Kind::NamedType; break;
    default: out.kind = H5Object::Kind::Other; break;
  }
  out.attributes = attribute_names(object, what);
  for (const std::string& attribute : out.attributes) {
    std::string why = attribute_refusal(object, attribute, what + ": attribute " + object_name(attribute));
    if (!why.empty()) out.unreadable_attributes.emplace_back(attribute, std::move(why));
  }
  if (out.kind != H5Object::Kind::Dataset) return out;

  const Handle type = own(H5Dget_type(object), what + ": cannot read the type");
  const detail::H5TypeInfo info = detail::describe_h5_type(type.get());
  out.dtype = info.dtype;
  out.readable = info.readable();
  out.type = info.description;
  const Handle space = own(H5Dget_space(object), what + ": cannot read the dataspace");
  out.shape = extent(space.get(), out.null_dataspace, what);
  const Handle dcpl = own(H5Dget_create_plist(object), what + ": cannot read the storage layout");
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  out.layout = layout_name(layout);
  if (layout == H5D_CHUNKED) {
    hsize_t chunk[H5S_MAX_RANK] = {};
    const int rank = H5Pget_chunk(dcpl.get(), H5S_MAX_RANK, chunk);
    if (rank < 0) detail::throw_h5(what + ": cannot read the chunk shape");
    out.chunks = Shape(chunk, chunk + rank);
  }
  if (layout == H5D_VIRTUAL) out.virtual_sources = detail::virtual_sources(dcpl.get(), origin, what);
  // Not for virtual datasets, whose data lies in other files, nor for
  // variable-length types, whose file bytes are references into a heap.
  if (layout != H5D_VIRTUAL && out.dtype && !out.null_dataspace) out.stored_bytes = H5Dget_storage_size(object);
  const std::vector<detail::PipelineFilter> pipeline = detail::filter_pipeline(dcpl.get(), what);
  for (const detail::PipelineFilter& f : pipeline) out.filters.push_back(filter_name(f.id, f.name));
  if (layout == H5D_CHUNKED && out.readable && !out.null_dataspace) {
    // What a read would refuse (detail/h5_chunks.cpp), said here already.
    const bool fixed_size = !(H5Tdetect_class(type.get(), H5T_VLEN) > 0 && !info.vlen_string) &&
                            H5Tget_class(type.get()) != H5T_REFERENCE;
    out.unreadable_reason = detail::pipeline_refusal(pipeline, fixed_size, file_name + ": dataset " + object_name(path));
    out.readable = out.unreadable_reason.empty();
  }
  if (!info.readable()) out.unreadable_reason = "it holds " + info.description + " elements, which ndbridge does not read";
  return out;
}

// One object of the walk. An object libhdf5 cannot open (a newer format
// version than it knows, a damaged header) is listed as unreadable, with
// HDF5's reason as its type, rather than failing the whole listing: `ls` on
// an unknown file should show all that can be shown.
H5Object describe_or_flag(hid_t file, const std::string& path, const std::string& file_name,
                          const detail::VirtualOrigin& origin) {
  try {
    const Handle object = own(H5Oopen(file, path.c_str(), H5P_DEFAULT),
                              file_name + ": cannot open " + object_name(path));
    return describe(object.get(), path, file_name, origin);
  } catch (const H5Error& e) {
    H5Object out;
    out.path = path;
    out.kind = H5Object::Kind::Other;
    H5O_info_t info;
#if H5_VERSION_GE(1, 12, 0)
    const herr_t known = H5Oget_info_by_name3(file, path.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT);
#else
    const herr_t known = H5Oget_info_by_name2(file, path.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT);
#endif
    if (known >= 0 && info.type == H5O_TYPE_DATASET) out.kind = H5Object::Kind::Dataset;
    if (known >= 0 && info.type == H5O_TYPE_GROUP) out.kind = H5Object::Kind::Group;
    H5Eclear2(H5E_DEFAULT);
    // what() is "<file>: cannot open '<path>': <reason>"; the entry names
    // the file and the object already.
    const std::string message = e.what();
    const std::string prefix = file_name + ": cannot open " + object_name(path) + ": ";
    out.error = message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
    return out;
  }
}

// More links than any real file holds: a damaged group structure can make
// HDF5's walk go round for ever, growing as it goes, so the walk stops here.
constexpr std::size_t kMaxLinks = 1'000'000;

using Links = std::vector<std::pair<std::string, H5L_type_t>>;

herr_t collect_link(hid_t, const char* name, const H5L_info_t* info, void* data) {
  auto* links = static_cast<Links*>(data);
  if (links->size() >= kMaxLinks) return 1;  // stop: the caller reports it
  links->emplace_back(name, info->type);
  return 0;
}

// The links of one group in the order h5py lists them: creation order
// where the group tracks it (netCDF-4 files, h5py's track_order=True), else
// name order.
Links group_links(hid_t file, const std::string& group, const std::string& name) {
  const Handle g = own(H5Gopen2(file, group.c_str(), H5P_DEFAULT),
                       name + ": cannot open " + object_name(group));
  const Handle gcpl = own(H5Gget_create_plist(g.get()), name + ": cannot open " + object_name(group));
  unsigned flags = 0;
  Links links;
  if (H5Pget_link_creation_order(gcpl.get(), &flags) >= 0 && (flags & H5P_CRT_ORDER_TRACKED) != 0) {
    // Tracked without an index, dense link storage cannot be walked in
    // that order: then names it is.
    if (H5Literate(g.get(), H5_INDEX_CRT_ORDER, H5_ITER_INC, nullptr, collect_link, &links) >= 0) {
      return links;
    }
    links.clear();
  }
  H5Eclear2(H5E_DEFAULT);
  check(H5Literate(g.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_link, &links),
        name + ": cannot walk " + object_name(group));
  return links;
}

// Whether a hard link leads to a group, and that group's identity in the
// file (its header address), to tell a group seen before.
std::optional<std::string> group_identity(hid_t file, const std::string& path, const std::string& name) {
  const std::string what = name + ": cannot look up " + object_name(path);
#if H5_VERSION_GE(1, 12, 0)
  H5O_info2_t info{};
  check(H5Oget_info_by_name3(file, path.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT), what);
  if (info.type != H5O_TYPE_GROUP) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(&info.token), sizeof info.token);
#else
  H5O_info_t info{};
  check(H5Oget_info_by_name2(file, path.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT), what);
  if (info.type != H5O_TYPE_GROUP) return std::nullopt;
  return std::to_string(info.addr);
#endif
}

// Every link under the root, depth first and within each group in the
// order group_links gives, as paths relative to the root. The walk is ours,
// not H5Lvisit's: libhdf5 1.10 recurses into subgroups and only notices a
// group it has seen when the group has several links to it, so a damaged
// file whose group contains itself overflowed the stack inside HDF5. Here
// every group is entered once, whatever its link count, and nothing
// recurses.
Links walk_links(hid_t file, const std::string& name) {
  struct Frame {
    std::string prefix;
    Links links;
    std::size_t next = 0;
  };
  std::set<std::string> seen;
  if (auto root = group_identity(file, "/", name)) seen.insert(*root);
  Links out;
  std::vector<Frame> stack;
  stack.push_back({"", group_links(file, "/", name)});
  while (!stack.empty()) {
    if (stack.back().next == stack.back().links.size()) {
      stack.pop_back();
      continue;
    }
    Frame& frame = stack.back();
    const auto& [link, type] = frame.links[frame.next++];
    std::string path = frame.prefix + link;
    if (out.size() >= kMaxLinks || frame.links.size() >= kMaxLinks) {
      throw FormatError(name + ": more than " + std::to_string(kMaxLinks) +
                        " links, which means a damaged group structure that loops");
    }
    out.emplace_back(path, type);
    if (type != H5L_TYPE_HARD) continue;
    const auto group = group_identity(file, "/" + path, name);
    if (group && seen.insert(*group).second) {
      Links children = group_links(file, "/" + path, name);
      stack.push_back({path + "/", std::move(children)});  // `frame` is not used after this
    }
  }
  return out;
}

}  // namespace

void h5_append_plugin_path(const std::filesystem::path& folder) {
  const detail::H5Guard guard;
  detail::append_plugin_folder(folder);
}

// H5File --------------------------------------------------------------------

namespace {

// What reading a dataset needs, looked up once per dataset and file.
struct OpenDataset {
  Handle dataset;
  Handle type;
  detail::H5TypeInfo info;
  Shape shape;
  bool is_null = false;
  // Set when the elements lie as they are, contiguous and unfiltered, at
  // this file offset: then rows are one pread() away.
  std::optional<std::uint64_t> raw_offset;
  // Set for chunked storage: reads go through it, never straight to H5Dread.
  std::unique_ptr<detail::H5Chunks> chunks;
};

}  // namespace

struct H5File::State {
  std::filesystem::path path;
  std::string name;
  detail::File raw{-1, {}};  // the same file, for the contiguous fast path
  // The whole file mapped, made on first use by a picked-row read of a
  // contiguous dataset: a row is then a memcpy, not a pread (a system call
  // per row is most of a batch of narrow rows).
  detail::LazyMapping mapped;
  detail::VirtualOrigin origin;  // where virtual datasets' source files are looked for
  Handle file;
  std::mutex mutex;  // guards `datasets`
  std::map<std::string, std::unique_ptr<OpenDataset>> datasets;

  const OpenDataset& dataset(const std::string& dataset_name);
  // Rows [start, stop) of `d`, or all of a scalar when `scalar`.
  Array read(const OpenDataset& d, const std::string& dataset_name, std::uint64_t start,
             std::uint64_t stop, bool scalar) const;
  // The same, of a dataset with a fixed-size dtype, into `buffer`, which
  // holds exactly those elements: `shape` (from row_shape) and `nbytes`.
  void read_into(const OpenDataset& d, const std::string& dataset_name, std::uint64_t start,
                 bool scalar, const Shape& shape, std::uint64_t nbytes, std::byte* buffer) const;
  // read_into's elements as the file stores them (strings still padded).
  void read_stored(const OpenDataset& d, const std::string& dataset_name, std::uint64_t start,
                   bool scalar, const Shape& shape, std::uint64_t nbytes, std::byte* buffer) const;
  // The shape of rows [start, stop) (the whole shape when `scalar`); throws
  // UsageError for a range outside the first axis.
  Shape row_shape(const OpenDataset& d, const std::string& dataset_name, std::uint64_t start,
                  std::uint64_t stop, bool scalar) const;
  // The dataspace of `d` with `shape` (from row_shape) selected from row
  // `start` on (all when `scalar`).
  Handle row_selection(const OpenDataset& d, std::uint64_t start, bool scalar, const Shape& shape,
                       const std::string& what) const;
  // Rows `rows` (resolved) of `d`, in that order: a new array, or into
  // `buffer` of `nbytes` (a fixed-size dtype only).
  Array read_picked(const OpenDataset& d, const std::string& dataset_name,
                    const std::vector<std::uint64_t>& rows) const;
  void read_picked_into(const OpenDataset& d, const std::string& dataset_name,
                        const std::vector<std::uint64_t>& rows, std::uint64_t nbytes, std::byte* buffer) const;
  // `runs` of `d` (in increasing row and output order) into `buffer`, which
  // holds `out_rows` rows, as `mem_type`; through the chunk reader, or one
  // H5Dread of their union.
  herr_t read_runs(const OpenDataset& d, hid_t mem_type, const std::vector<detail::H5Chunks::Run>& runs,
                   std::uint64_t out_rows, void* buffer, const std::string& what) const;
};

namespace {

// Requested rows as the distinct rows in increasing order (each read once,
// in runs) and, per request, which of them it is.
struct DistinctRows {
  std::vector<std::uint64_t> rows;
  std::vector<std::size_t> slot;  // per request
  bool as_requested = true;       // the requests are already distinct and increasing
  std::vector<detail::H5Chunks::Run> runs() const {
    std::vector<detail::H5Chunks::Run> out;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (!out.empty() && out.back().row + out.back().count == rows[i]) {
        ++out.back().count;
      } else {
        out.push_back({rows[i], i, 1});
      }
    }
    return out;
  }
};

DistinctRows distinct(const std::vector<std::uint64_t>& requested) {
  DistinctRows d;
  for (std::size_t i = 1; i < requested.size(); ++i) {
    if (requested[i] <= requested[i - 1]) d.as_requested = false;
  }
  if (d.as_requested) {
    d.rows = requested;
    return d;
  }
  d.rows = requested;
  std::sort(d.rows.begin(), d.rows.end());
  d.rows.erase(std::unique(d.rows.begin(), d.rows.end()), d.rows.end());
  d.slot.reserve(requested.size());
  for (const std::uint64_t row : requested) {
    d.slot.push_back(static_cast<std::size_t>(std::lower_bound(d.rows.begin(), d.rows.end(), row) - d.rows.begin()));
  }
  return d;
}

}  // namespace

herr_t H5File::State::read_runs(const OpenDataset& d, hid_t mem_type, const std::vector<detail::H5Chunks::Run>& runs,
                                std::uint64_t out_rows, void* buffer, const std::string& what) const {
  if (d.chunks) {
    d.chunks->read(mem_type, runs, out_rows, buffer);
    return 0;
  }
  Handle file_space = own(H5Dget_space(d.dataset.get()), what + ": cannot read the dataspace");
  Shape shape = d.shape;
  shape[0] = out_rows;
  const Handle mem_space = memory_space(shape, what);
  std::vector<hsize_t> from(shape.size(), 0), count(shape.begin(), shape.end()), to(shape.size(), 0);
  for (std::size_t i = 0; i < runs.size(); ++i) {
    from[0] = runs[i].row;
    to[0] = runs[i].to;
    count[0] = runs[i].count;
    const H5S_seloper_t op = i == 0 ? H5S_SELECT_SET : H5S_SELECT_OR;
    check(H5Sselect_hyperslab(file_space.get(), op, from.data(), nullptr, count.data(), nullptr),
          what + ": cannot select rows");
    check(H5Sselect_hyperslab(mem_space.get(), op, to.data(), nullptr, count.data(), nullptr),
          what + ": cannot select rows");
  }
  return H5Dread(d.dataset.get(), mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, buffer);
}

void H5File::State::read_picked_into(const OpenDataset& d, const std::string& dataset_name,
                                     const std::vector<std::uint64_t>& rows, std::uint64_t nbytes,
                                     std::byte* buffer) const {
  if (nbytes == 0) return;
  const std::string what = name + ": dataset " + object_name(dataset_name);
  const std::uint64_t row_bytes = nbytes / rows.size();
  if (d.raw_offset) {
    // Where the elements lie, no HDF5 call: copied from the file's map, or
    // read with pread() where the map does not reach (a file that grew, or
    // claims data past its end, which pread then reports).
    const detail::Mapping* map = mapped.get(raw).get();
    const detail::StoredLayout layout{d.shape, d.info.dtype->itemsize(), false, *d.raw_offset};
    detail::run_plan(detail::plan_rows(layout, rows, false, detail::ReadOrder::Request), buffer,
                     [&](std::byte* out, std::uint64_t from, std::uint64_t n) {
                       if (map != nullptr && from <= map->size() && n <= map->size() - from) {
                         std::memcpy(out, map->data() + from, static_cast<std::size_t>(n));
                         return;
                       }
                       if (raw.read_at(out, static_cast<std::size_t>(n), from) != n) {
                         throw FormatError(what + ": the file ends inside the dataset's data (truncated file)");
                       }
                     });
    return;
  }
  const DistinctRows picked = distinct(rows);
  std::vector<std::byte> scratch;
  std::byte* target = buffer;
  if (!picked.as_requested) {
    scratch.resize(static_cast<std::size_t>(picked.rows.size() * row_bytes));
    target = scratch.data();
  }
  const detail::QuietErrors quiet;
  const Handle mem_type = detail::h5_memory_type(d.type.get(), d.info);
  check(read_runs(d, mem_type.get(), picked.runs(), picked.rows.size(), target, what), what + ": cannot read");
  if (picked.as_requested) return;
  for (std::size_t p = 0; p < rows.size(); ++p) {
    std::memcpy(buffer + p * row_bytes, target + picked.slot[p] * row_bytes, static_cast<std::size_t>(row_bytes));
  }
}

Array H5File::State::read_picked(const OpenDataset& d, const std::string& dataset_name,
                                 const std::vector<std::uint64_t>& rows) const {
  const std::string what = name + ": dataset " + object_name(dataset_name);
  Shape shape = d.shape;
  shape[0] = rows.size();
  if (d.info.dtype) {
    Array out = detail::allocate_for(*d.info.dtype, shape, false, what);
    if (out.nbytes() != 0) read_picked_into(d, dataset_name, rows, out.nbytes(), out.mutable_bytes());
    return out;
  }
  // Variable-length strings: the distinct rows as text, then in order.
  const DistinctRows picked = distinct(rows);
  Shape distinct_shape = d.shape;
  distinct_shape[0] = picked.rows.size();
  const detail::QuietErrors quiet;
  Array texts = read_elements(d.dataset.get(), d.type.get(), d.info, distinct_shape,
                              [&](hid_t mem_type, hid_t, void* buffer) {
                                return read_runs(d, mem_type, picked.runs(), picked.rows.size(), buffer, what);
                              },
                              what);
  if (picked.as_requested) return texts;
  Array out = detail::allocate_for(texts.dtype(), shape, false, what);
  const std::uint64_t row_bytes = rows.empty() ? 0 : out.nbytes() / rows.size();
  for (std::size_t p = 0; p < rows.size() && row_bytes != 0; ++p) {
    std::memcpy(out.mutable_bytes() + p * row_bytes, texts.bytes() + picked.slot[p] * row_bytes,
                static_cast<std::size_t>(row_bytes));
  }
  return out;
}

Array H5File::State::read(const OpenDataset& d, const std::string& dataset_name,
                          std::uint64_t start, std::uint64_t stop, bool scalar) const {
  if (d.info.dtype) {
    const Shape shape = row_shape(d, dataset_name, start, stop, scalar);
    Array out = detail::allocate_for(*d.info.dtype, shape, false,
                                     name + ": dataset " + object_name(dataset_name));
    if (out.nbytes() != 0) {
      read_into(d, dataset_name, start, scalar, shape, out.nbytes(), out.mutable_bytes());
    }
    return out;
  }
  // Variable-length strings (their width is known once read), or a type
  // read_elements refuses with the reason.
  const std::string what = name + ": dataset " + object_name(dataset_name);
  const Shape shape = row_shape(d, dataset_name, start, stop, scalar);
  const detail::QuietErrors quiet;
  const Handle space = row_selection(d, start, scalar, shape, what);
  const hid_t dset = d.dataset.get();
  const hid_t file_space = d.is_null ? H5S_ALL : space.get();
  return read_elements(dset, d.type.get(), d.info, shape,
                       [&](hid_t mem_type, hid_t mem_space, void* buffer) -> herr_t {
                         if (d.chunks) {
                           d.chunks->read(mem_type, {{start, 0, shape[0]}}, shape[0], buffer);
                           return 0;
                         }
                         return H5Dread(dset, mem_type, mem_space, file_space, H5P_DEFAULT, buffer);
                       },
                       what);
}

Shape H5File::State::row_shape(const OpenDataset& d, const std::string& dataset_name,
                               std::uint64_t start, std::uint64_t stop, bool scalar) const {
  Shape shape = d.shape;
  if (scalar) return shape;
  if (shape.empty() || start > stop || stop > shape[0]) {
    check_row_range(shape, start, stop, name + ": dataset " + object_name(dataset_name));
  }
  shape[0] = stop - start;
  return shape;
}

Handle H5File::State::row_selection(const OpenDataset& d, std::uint64_t start, bool scalar,
                                    const Shape& shape, const std::string& what) const {
  Handle space = own(H5Dget_space(d.dataset.get()), what + ": cannot read the dataspace");
  if (!scalar && !d.is_null && shape[0] > 0) {
    std::vector<hsize_t> offset(shape.size(), 0), count(shape.begin(), shape.end());
    offset[0] = start;
    check(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, offset.data(), nullptr, count.data(),
                              nullptr),
          what + ": cannot select rows");
  }
  return space;
}

void H5File::State::read_into(const OpenDataset& d, const std::string& dataset_name,
                              std::uint64_t start, bool scalar, const Shape& shape,
                              std::uint64_t nbytes, std::byte* buffer) const {
  if (nbytes == 0) return;
  read_stored(d, dataset_name, start, scalar, shape, nbytes, buffer);
  detail::unpad_strings(d.info, buffer, nbytes / d.info.dtype->itemsize());
}

void H5File::State::read_stored(const OpenDataset& d, const std::string& dataset_name,
                                std::uint64_t start, bool scalar, const Shape& shape,
                                std::uint64_t nbytes, std::byte* buffer) const {
  if (d.raw_offset) {
    // The elements lie in the file as they are: one pread, no HDF5 call. The
    // message is built only on failure, as small row reads are a hot path.
    const std::uint64_t row_bytes = scalar || d.shape.empty() ? 0 : nbytes / shape[0];
    const std::size_t got = raw.read_at_parallel(buffer, static_cast<std::size_t>(nbytes),
                                                 *d.raw_offset + start * row_bytes);
    if (got != nbytes) {
      throw FormatError(name + ": dataset " + object_name(dataset_name) +
                        ": the file ends inside the dataset's data (truncated file)");
    }
    return;
  }
  const std::string what = name + ": dataset " + object_name(dataset_name);
  const detail::QuietErrors quiet;
  const Handle mem_type = detail::h5_memory_type(d.type.get(), d.info);
  if (d.chunks) {
    d.chunks->read(mem_type.get(), {{start, 0, shape[0]}}, shape[0], buffer);
    return;
  }
  const Handle space = row_selection(d, start, scalar, shape, what);
  const Handle mem_space = memory_space(shape, what);
  check(H5Dread(d.dataset.get(), mem_type.get(), mem_space.get(), d.is_null ? H5S_ALL : space.get(),
                H5P_DEFAULT, buffer),
        what + ": cannot read");
}

const OpenDataset& H5File::State::dataset(const std::string& dataset_name) {
  const std::lock_guard<std::mutex> lock(mutex);
  auto found = datasets.find(dataset_name);
  if (found != datasets.end()) return *found->second;
  const detail::QuietErrors quiet;
  const std::string what = name + ": dataset " + object_name(dataset_name);
  auto d = std::make_unique<OpenDataset>();
  d->dataset = open_dataset(file.get(), dataset_name, name);
  d->type = own(H5Dget_type(d->dataset.get()), what + ": cannot read the type");
  d->info = detail::describe_h5_type(d->type.get());
  const Handle space = own(H5Dget_space(d->dataset.get()), what + ": cannot read the dataspace");
  d->shape = extent(space.get(), d->is_null, what);
  if (d->is_null) d->shape = {0};  // nothing to read; an empty 1-d array is closest
  const Handle dcpl = own(H5Dget_create_plist(d->dataset.get()), what + ": cannot read the layout");
  const haddr_t offset = H5Dget_offset(d->dataset.get());
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  // HDF5 reads a missing source as fill values without a word: check first.
  if (layout == H5D_VIRTUAL) detail::check_virtual_sources(dcpl.get(), origin, what);
  if ((layout == H5D_CONTIGUOUS || layout == H5D_COMPACT) && !d->is_null &&
      H5Pget_external_count(dcpl.get()) == 0) {
    // Unfiltered storage holds every byte in the file: a dataspace larger
    // than the file is a lie, refused before anything is allocated for it.
    require_in_file(d->shape, H5Tget_size(d->type.get()), raw.size_at_open(), what);
    // The layout message records how many bytes are stored; HDF5 1.10 reads
    // the dataspace's worth whatever it says, past its own buffer for a
    // compact dataset. A mismatch is a damaged file: refuse it here.
    const hsize_t stored = H5Dget_storage_size(d->dataset.get());
    const std::uint64_t expected =
        checked_element_count(d->shape, H5Tget_size(d->type.get()), what) * H5Tget_size(d->type.get());
    if (!d->info.vlen_string && (layout == H5D_COMPACT || stored != 0) && stored != expected) {
      throw FormatError(what + " stores " + std::to_string(stored) + " bytes, but its shape and " +
                        "type need " + std::to_string(expected) + " (damaged layout)");
    }
  }
  if (layout == H5D_CHUNKED && !d->is_null) {
    check_chunk_layout(dcpl.get(), space.get(), what);
    if (H5Pget_nfilters(dcpl.get()) == 0) {
      // Reopened without a chunk cache. Through the cache libhdf5 1.10
      // reads an unfiltered chunk into a buffer of the size its record
      // claims, then copies the layout's chunk size out of it: a short
      // record over-reads the buffer, and no O(log n) call reports that
      // size (H5Dget_chunk_storage_size gives the layout's). Without the
      // cache it reads the chunk's bytes straight into the caller's memory.
      const Handle dapl = own(H5Pcreate(H5P_DATASET_ACCESS), what + ": cannot make access settings");
      check(H5Pset_chunk_cache(dapl.get(), 0, 0, H5D_CHUNK_CACHE_W0_DEFAULT),
            what + ": cannot make access settings");
      // Closed first: a second open of an open dataset shares its cache.
      d->dataset.reset();
      d->dataset = own(H5Dopen2(file.get(), dataset_name.c_str(), dapl.get()), what + ": cannot reopen");
    }
    d->chunks = std::make_unique<detail::H5Chunks>(d->dataset.get(), dcpl.get(), d->type.get(), d->shape,
                                                   raw, what);
  }
  if (d->info.dtype && !d->is_null && layout == H5D_CONTIGUOUS &&
      H5Pget_nfilters(dcpl.get()) == 0 && H5Pget_external_count(dcpl.get()) == 0 &&
      offset != HADDR_UNDEF && H5Tget_size(d->type.get()) == d->info.dtype->itemsize()) {
    const std::uint64_t bytes =
        checked_element_count(d->shape, d->info.dtype->itemsize(), what) * d->info.dtype->itemsize();
    if (offset + bytes <= raw.size_at_open()) d->raw_offset = offset;
  }
  return *datasets.emplace(dataset_name, std::move(d)).first->second;
}

H5File::H5File(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}
H5File::H5File(H5File&&) noexcept = default;
H5File& H5File::operator=(H5File&&) noexcept = default;

H5File::~H5File() {
  if (!state_) return;
  const detail::H5Guard guard;
  const detail::QuietErrors quiet;
  state_->datasets.clear();
  state_->file.reset();
}

const std::filesystem::path& H5File::path() const noexcept { return state_->path; }

H5File H5File::open(const std::filesystem::path& path) {
  const detail::H5Guard guard;
  const detail::QuietErrors quiet;
  detail::register_filters();
  auto state = std::make_unique<State>();
  state->path = path;
  state->name = detail::quote(path);
  state->origin = detail::VirtualOrigin::of(path);
  // Open it ourselves first: "not found" and "permission denied" deserve
  // their errno, and a file without the signature is not HDF5 at all.
  state->raw = detail::File::open_read(path);
  if (!has_hdf5_signature(state->raw)) {
    throw FormatError(state->name + ": not an HDF5 file (no HDF5 signature at offset 0, 512, 1024, ...)");
  }
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) detail::throw_h5(state->name + ": cannot open as HDF5");
  state->file = Handle(id);
  return H5File(std::move(state));
}

std::vector<H5Object> H5File::list() const {
  const detail::H5Guard guard;
  const detail::QuietErrors quiet;
  const hid_t id = state_->file.get();
  const std::string& name = state_->name;
  std::vector<H5Object> out;
  {
    const Handle root = own(H5Oopen(id, "/", H5P_DEFAULT), name + ": cannot open the root group");
    out.push_back(describe(root.get(), "/", name, state_->origin));
  }
  for (const auto& [link, type] : walk_links(id, name)) {
    const std::string path = "/" + link;
    if (type == H5L_TYPE_HARD) {
      out.push_back(describe_or_flag(id, path, name, state_->origin));
      continue;
    }
    H5Object entry;
    entry.path = path;
    entry.kind = H5Object::Kind::Other;
    entry.type = type == H5L_TYPE_SOFT ? "soft link" : type == H5L_TYPE_EXTERNAL ? "external link" : "link";
    out.push_back(std::move(entry));
  }
  return out;
}

bool H5File::contains(const std::string& object) const {
  const detail::H5Guard guard;
  const detail::QuietErrors quiet;
  return object_exists(state_->file.get(), object, state_->name);
}

H5Object H5File::info(const std::string& object) const {
  const detail::H5Guard guard;
  const detail::QuietErrors quiet;
  const Handle handle = open_object(state_->file.get(), object, state_->name);
  return describe(handle.get(), object, state_->name, state_->origin);
}

Array H5File::read(const std::string& dataset) const {
  const detail::H5Guard guard;
  const OpenDataset& d = state_->dataset(dataset);
  return state_->read(d, dataset, 0, d.shape.empty() ? 0 : d.shape[0], d.shape.empty());
}

Array H5File::read_rows(const std::string& dataset, std::uint64_t start, std::uint64_t stop) const {
  const detail::H5Guard guard;
  const OpenDataset& d = state_->dataset(dataset);
  return state_->read(d, dataset, start, stop, false);
}

Array H5File::read_rows(const std::string& dataset, RowIndices indices) const {
  const detail::H5Guard guard;
  const OpenDataset& d = state_->dataset(dataset);
  const std::string what = state_->name + ": dataset " + object_name(dataset);
  return state_->read_picked(d, dataset, detail::resolve_rows(indices, d.shape, what));
}

void H5File::read_rows_into(const std::string& dataset, RowIndices indices, void* buffer,
                            std::uint64_t size) const {
  const detail::H5Guard guard;
  const OpenDataset& d = state_->dataset(dataset);
  const std::string what = state_->name + ": dataset " + object_name(dataset);
  if (!d.info.dtype) {
    throw UsageError(what + " holds " + d.info.description +
                     " elements, which have no fixed size to read into a buffer");
  }
  const std::vector<std::uint64_t> rows = detail::resolve_rows(indices, d.shape, what);
  const std::uint64_t nbytes = detail::buffer_bytes(d.shape, rows.size(), d.info.dtype->itemsize(), size, what);
  state_->read_picked_into(d, dataset, rows, nbytes, static_cast<std::byte*>(buffer));
}

H5ReadInfo H5File::read_info(const std::string& dataset) const {
  const detail::H5Guard guard;
  const OpenDataset& d = state_->dataset(dataset);
  return H5ReadInfo{d.info.dtype, d.shape};
}

void H5File::read_rows_into(const std::string& dataset, std::uint64_t start, std::uint64_t stop,
                            void* buffer, std::uint64_t size) const {
  const detail::H5Guard guard;
  const OpenDataset& d = state_->dataset(dataset);
  if (!d.info.dtype) {
    throw UsageError(state_->name + ": dataset " + object_name(dataset) + " holds " +
                     d.info.description + " elements, which have no fixed size to read into a buffer");
  }
  const Shape shape = state_->row_shape(d, dataset, start, stop, false);
  const std::uint64_t nbytes =
      checked_element_count(shape, d.info.dtype->itemsize(), state_->name) * d.info.dtype->itemsize();
  if (size != nbytes) {
    throw UsageError(state_->name + ": dataset " + object_name(dataset) + ": rows [" +
                     std::to_string(start) + ", " + std::to_string(stop) + ") take " +
                     std::to_string(nbytes) + " bytes, not the " + std::to_string(size) +
                     " bytes given");
  }
  state_->read_into(d, dataset, start, false, shape, nbytes, static_cast<std::byte*>(buffer));
}

void H5File::read_rows_into(const std::string& dataset, std::uint64_t start, std::uint64_t stop, void* buffer,
                            std::uint64_t size, const DType& as) const {
  const detail::H5Guard guard;
  const std::optional<DType> stored = state_->dataset(dataset).info.dtype;
  // Without a fixed dtype (variable-length strings) the untyped read says why.
  if (stored) detail::check_readable_as(*stored, as, state_->name + ": dataset " + object_name(dataset));
  read_rows_into(dataset, start, stop, buffer, size);
  if (stored) detail::convert_byte_order(*stored, as, buffer, size);
}

void H5File::read_rows_into(const std::string& dataset, RowIndices indices, void* buffer, std::uint64_t size,
                            const DType& as) const {
  const detail::H5Guard guard;
  const std::optional<DType> stored = state_->dataset(dataset).info.dtype;
  if (stored) detail::check_readable_as(*stored, as, state_->name + ": dataset " + object_name(dataset));
  read_rows_into(dataset, indices, buffer, size);
  if (stored) detail::convert_byte_order(*stored, as, buffer, size);
}

std::vector<std::pair<std::string, Array>> H5File::attributes(const std::string& object) const {
  const detail::H5Guard guard;
  const detail::QuietErrors quiet;
  const std::string& name = state_->name;
  const Handle handle = open_object(state_->file.get(), object, name);
  std::vector<std::pair<std::string, Array>> out;
  for (const std::string& attribute : attribute_names(handle.get(), name + ": " + object_name(object))) {
    const std::string what = name + ": attribute " + object_name(attribute) + " of " + object_name(object);
    const Handle attr = own(H5Aopen(handle.get(), attribute.c_str(), H5P_DEFAULT), what + ": cannot open");
    const Handle type = own(H5Aget_type(attr.get()), what + ": cannot read the type");
    const detail::H5TypeInfo info = detail::describe_h5_type(type.get());
    if (!info.readable()) continue;  // list() says why
    const Handle space = own(H5Aget_space(attr.get()), what + ": cannot read the dataspace");
    bool is_null = false;
    Shape shape = extent(space.get(), is_null, what);
    if (is_null) shape = {0};
    // Attribute data is never compressed: it must fit in the file, and be
    // as large as its shape and type say (libhdf5 copies that much out of
    // what the attribute message holds, however short).
    require_in_file(shape, H5Tget_size(type.get()), state_->raw.size_at_open(), what);
    const std::uint64_t element =
        info.object_reference ? H5Tget_size(type.get()) : detail::h5_stored_element_size(attr.get(), type.get(), what);
    if (!is_null && element != 0) {
      const std::uint64_t expected = checked_element_count(shape, element, what) * element;
      const hsize_t stored = H5Aget_storage_size(attr.get());
      if (stored != expected) {
        throw FormatError(what + " stores " + std::to_string(stored) + " bytes, but its shape and type need " +
                          std::to_string(expected) + " (damaged attribute)");
      }
    }
    out.emplace_back(attribute, read_elements(attr.get(), type.get(), info, shape,
                                              [&](hid_t mem_type, hid_t, void* buffer) {
                                                return is_null ? herr_t{0} : H5Aread(attr.get(), mem_type, buffer);
                                              },
                                              what));
  }
  return out;
}

// H5Writer ------------------------------------------------------------------

struct H5Writer::State {
  explicit State(const std::filesystem::path& destination) : output(destination) {}
  detail::AtomicOutput output;
  std::string name;
  Handle file;
  H5WriteMode mode = H5WriteMode::Overwrite;
  bool committed = false;
};

namespace {

// Element bytes in C order, as HDF5 wants them; no copy when already so.
const void* c_order_bytes(const ArrayView& data, std::vector<std::byte>& storage) {
  if (data.is_c_contiguous()) return data.data();
  storage.reserve(static_cast<std::size_t>(data.nbytes()));
  detail::gather_c_order(data, [&](const std::byte* p, std::size_t n) {
    storage.insert(storage.end(), p, p + n);
  });
  return storage.data();
}

// Unicode elements as UTF-8 strings, for HDF5's variable-length str.
std::vector<std::string> to_utf8(const ArrayView& data, const std::string& what) {
  std::vector<std::byte> storage;
  const auto* bytes = static_cast<const std::byte*>(c_order_bytes(data, storage));
  const std::size_t width = data.dtype().itemsize() / 4;
  const bool swap = !data.dtype().is_native();
  std::vector<std::string> out(static_cast<std::size_t>(data.size()));
  std::u32string text;
  for (std::size_t i = 0; i < out.size(); ++i) {
    text.clear();
    for (std::size_t k = 0; k < width; ++k) {
      unsigned char b[4];
      std::memcpy(b, bytes + (i * width + k) * 4, 4);
      if (swap) std::reverse(b, b + 4);
      char32_t c;
      std::memcpy(&c, b, 4);
      text.push_back(c);
    }
    // numpy's U strings end at the first trailing NUL; an interior NUL
    // cannot survive a C string.
    while (!text.empty() && text.back() == U'\0') text.pop_back();
    if (text.find(U'\0') != std::u32string::npos) {
      throw UsageError(what + ": string " + std::to_string(i) +
                       " contains a NUL character, which HDF5 strings cannot hold");
    }
    if (!detail::utf32_to_utf8(text, out[i])) {
      throw UsageError(what + ": string " + std::to_string(i) + " is not valid unicode");
    }
  }
  return out;
}

// The bytes HDF5 is handed for `data`, prepared before anything is created
// in the file, so a conversion failure cannot leave a half-made object.
class PreparedElements {
 public:
  PreparedElements(const ArrayView& data, const std::string& what) {
    if (data.size() == 0) return;
    if (data.dtype().kind() == Kind::Unicode) {
      texts_ = to_utf8(data, what);
      pointers_.reserve(texts_.size());
      for (const auto& t : texts_) pointers_.push_back(t.c_str());
      buffer_ = pointers_.data();
      return;
    }
    buffer_ = c_order_bytes(data, storage_);
  }
  /// Null when there is nothing to write.
  const void* buffer() const noexcept { return buffer_; }

 private:
  std::vector<std::byte> storage_;
  std::vector<std::string> texts_;
  std::vector<const char*> pointers_;
  const void* buffer_ = nullptr;
};

Shape automatic_chunks(const ArrayView& data) {
  // About 1 MiB per chunk, whole rows, as a sensible default for reading
  // row ranges.
  Shape chunks = data.shape();
  std::uint64_t row_bytes = data.dtype().itemsize();
  for (std::size_t k = 1; k < chunks.size(); ++k) row_bytes *= std::max<std::uint64_t>(chunks[k], 1);
  const std::uint64_t rows = std::max<std::uint64_t>(1, (std::uint64_t{1} << 20) / std::max<std::uint64_t>(row_bytes, 1));
  chunks[0] = std::min(rows, std::max<std::uint64_t>(chunks[0], 1));
  return chunks;
}

// libhdf5 before 1.14.1 cannot recover from a file it may not extend: once
// a write fails with EFBIG, closing the file fails too, leaves a dangling
// identifier behind, and the process crashes in HDF5's exit handler
// (HDFFV-11052). So data that would take the file past the file-size limit
// (RLIMIT_FSIZE) is refused before HDF5 allocates any of it. Compressed data
// is counted at its full size: the limit is a hard wall, a guess is not.
void check_size_limit(hid_t file, std::uint64_t data_bytes, const std::string& what) {
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_FSIZE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return;
  hsize_t size = 0;
  check(H5Fget_filesize(file, &size), what + ": cannot get the file size");
  // Room for the object header, chunk index and other metadata it brings.
  const std::uint64_t needed = size + data_bytes + data_bytes / 64 + (std::uint64_t{64} << 10);
  if (needed > limit.rlim_cur) {
    throw FileError(what + ": cannot write " + std::to_string(data_bytes) +
                      " bytes: the file would pass the file-size limit (RLIMIT_FSIZE) of " +
                      std::to_string(limit.rlim_cur) + " bytes: " + std::strerror(EFBIG),
                  EFBIG);
  }
}

}  // namespace

bool hdf5_threadsafe() noexcept { return detail::h5_library_threadsafe(); }

H5Compression h5_compression(const std::string& name) {
  if (name.empty() || name == "none") return H5Compression::None;
  if (name == "gzip") return H5Compression::Gzip;
  if (name == "lzf") return H5Compression::Lzf;
  throw UsageError("unknown compression '" + detail::printable(name, 100) + "' (use gzip, lzf or none)");
}

const char* h5_compression_name(H5Compression compression) noexcept {
  switch (compression) {
    case H5Compression::Gzip: return "gzip";
    case H5Compression::Lzf: return "lzf";
    default: return "none";
  }
}

H5CompressionOption::H5CompressionOption(const char* name) { set(name == nullptr ? "" : name); }
H5CompressionOption::H5CompressionOption(const std::string& name) { set(name); }

void H5CompressionOption::set(const std::string& name) {
  try {
    value_ = h5_compression(name);
  } catch (const UsageError&) {
    unknown_ = name;  // write() names the file with it
  }
}

namespace {

// Refuses an existing destination for H5WriteMode::Create.
void refuse_existing(const std::filesystem::path& destination, const std::string& name) {
  std::error_code error;
  if (std::filesystem::symlink_status(destination, error).type() != std::filesystem::file_type::not_found &&
      !error) {
    throw FileError(name + ": already exists (the write mode is create; use overwrite or append)", EEXIST);
  }
}

}  // namespace

H5Writer::H5Writer(const std::filesystem::path& destination, bool append)
    : H5Writer(destination, append ? H5WriteMode::Append : H5WriteMode::Overwrite) {}

H5Writer::H5Writer(const std::filesystem::path& destination, H5WriteMode mode)
    : state_(std::make_unique<State>(destination)) {
  const detail::H5Guard guard;
  const detail::QuietErrors quiet;
  detail::register_filters();
  state_->name = detail::quote(destination);
  state_->mode = mode;
  if (mode == H5WriteMode::Create) refuse_existing(destination, state_->name);
  const std::filesystem::path& temporary = state_->output.temporary();
  if (mode == H5WriteMode::Append && std::filesystem::exists(destination)) {
    if (!has_hdf5_signature(detail::File::open_read(destination))) {
      throw FormatError(state_->name + ": cannot add to it: not an HDF5 file (no HDF5 signature)");
    }
    std::error_code error;
    std::filesystem::copy_file(destination, temporary,
                               std::filesystem::copy_options::overwrite_existing, error);
    if (error) {
      throw FileError("cannot copy " + state_->name + " to add to it: " + error.message(), error.value());
    }
    state_->file = own(H5Fopen(temporary.c_str(), H5F_ACC_RDWR, H5P_DEFAULT),
                       state_->name + ": cannot open as HDF5 to add to it");
    return;
  }
  const Handle fapl = own(H5Pcreate(H5P_FILE_ACCESS), state_->name + ": cannot create");
  // The oldest format that holds the data, as h5py's libver="earliest",
  // and nothing newer than 1.8's (H5F_LIBVER_V18): a libhdf5 1.10 left to
  // its defaults could pick 1.10-only encodings that older readers refuse.
  check(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_EARLIEST, H5F_LIBVER_V18),
        state_->name + ": cannot create");
  check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), state_->name + ": cannot create");
  state_->file = own(H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()),
                     state_->name + ": cannot create");
}

H5Writer::~H5Writer() {
  const detail::H5Guard guard;
  const detail::QuietErrors quiet;
  state_->file.reset();  // then the AtomicOutput removes the temporary file
}

void H5Writer::write(const std::string& name, const ArrayView& data, const H5DatasetOptions& options) {
  const detail::H5Guard guard;
  const detail::QuietErrors quiet;
  const std::string what = state_->name + ": dataset " + object_name(name);
  if (state_->committed) throw UsageError(what + ": the file is already committed");
  const hid_t file = state_->file.get();
  if (object_exists(file, name, state_->name)) throw UsageError(what + " already exists");
  const std::string blocker = non_group_parent(file, name, state_->name);
  if (!blocker.empty()) {
    throw UsageError(what + ": cannot be created, " + object_name(blocker) + " is not a group");
  }

  const PreparedElements elements(data, what);
  const Handle type = detail::h5_type_for(data.dtype());
  const Handle space = memory_space(data.shape(), what);
  const Handle lcpl = own(H5Pcreate(H5P_LINK_CREATE), what + ": cannot create");
  check(H5Pset_create_intermediate_group(lcpl.get(), 1), what + ": cannot create");
  check(H5Pset_char_encoding(lcpl.get(), H5T_CSET_UTF8), what + ": cannot create");
  const Handle dcpl = own(H5Pcreate(H5P_DATASET_CREATE), what + ": cannot create");

  if (!options.compression.unknown_name().empty()) {
    throw UsageError(what + ": unknown compression '" + detail::printable(options.compression.unknown_name(), 100) +
                     "' (use H5Compression::Gzip or H5Compression::Lzf)");
  }
  const H5Compression compression = options.compression;
  const bool filtered = compression != H5Compression::None || options.shuffle || options.fletcher32;
  const bool chunked = (options.chunks.has_value() || filtered) && data.size() > 0;
  if ((options.chunks.has_value() || filtered) && data.ndim() == 0) {
    throw UsageError(what + ": a scalar cannot be chunked or compressed");
  }
  if (chunked) {
    const Shape chunks = options.chunks ? *options.chunks : automatic_chunks(data);
    if (chunks.size() != data.ndim()) {
      throw UsageError(what + ": chunk shape has " + std::to_string(chunks.size()) +
                       " dimensions, the data " + std::to_string(data.ndim()));
    }
    std::vector<hsize_t> dims;
    for (std::size_t k = 0; k < chunks.size(); ++k) {
      if (chunks[k] == 0 || chunks[k] > data.shape()[k]) {
        throw UsageError(what + ": chunk dimension " + std::to_string(k) + " must be between 1 and " +
                         std::to_string(data.shape()[k]));
      }
      dims.push_back(chunks[k]);
    }
    check(H5Pset_chunk(dcpl.get(), static_cast<int>(dims.size()), dims.data()), what + ": cannot chunk");
    // h5py's pipeline order: shuffle, compression, checksum.
    if (options.shuffle) check(H5Pset_shuffle(dcpl.get()), what + ": cannot add shuffle");
    if (compression == H5Compression::Gzip) {
      if (options.gzip_level < 0 || options.gzip_level > 9) {
        throw UsageError(what + ": gzip level must be 0-9, not " + std::to_string(options.gzip_level));
      }
      check(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(options.gzip_level)), what + ": cannot add gzip");
    } else if (compression == H5Compression::Lzf) {
      check(H5Pset_filter(dcpl.get(), 32000, H5Z_FLAG_OPTIONAL, 0, nullptr), what + ": cannot add lzf");
    }
    if (options.fletcher32) check(H5Pset_fletcher32(dcpl.get()), what + ": cannot add fletcher32");
  }
  check_size_limit(file, data.nbytes(), what);
  const Handle dset = own(H5Dcreate2(file, name.c_str(), type.get(), space.get(), lcpl.get(),
                                     dcpl.get(), H5P_DEFAULT),
                          what + ": cannot create");
  if (elements.buffer() != nullptr) {
    check(H5Dwrite(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, elements.buffer()),
          what + ": cannot write");
  }
}

void H5Writer::set_attribute(const std::string& object, const std::string& name, const ArrayView& value) {
  const detail::H5Guard guard;
  const detail::QuietErrors quiet;
  const std::string what = state_->name + ": attribute " + object_name(name) + " of " + object_name(object);
  if (state_->committed) throw UsageError(what + ": the file is already committed");
  const PreparedElements elements(value, what);
  const Handle target = open_object(state_->file.get(), object, state_->name);
  if (check_tri(H5Aexists(target.get(), name.c_str()), what + ": cannot look up")) {
    check(H5Adelete(target.get(), name.c_str()), what + ": cannot replace");  // as h5py's attrs[name] = v
  }
  const Handle type = detail::h5_type_for(value.dtype());
  const Handle space = memory_space(value.shape(), what);
  const Handle attr = own(H5Acreate2(target.get(), name.c_str(), type.get(), space.get(),
                                     H5P_DEFAULT, H5P_DEFAULT),
                          what + ": cannot create");
  if (elements.buffer() != nullptr) {
    check(H5Awrite(attr.get(), type.get(), elements.buffer()), what + ": cannot write");
  }
}

void H5Writer::set_attribute(const std::string& object, const std::string& name, const std::string& text) {
  std::u32string wide;
  if (!detail::utf8_to_utf32(text.c_str(), wide) || text.find('\0') != std::string::npos) {
    throw UsageError(state_->name + ": attribute " + object_name(name) +
                     ": text must be UTF-8 without NUL characters");
  }
  const std::size_t width = std::max<std::size_t>(wide.size(), 1);
  wide.resize(width, U'\0');
  set_attribute(object, name,
                ArrayView::contiguous(wide.data(), DType(Kind::Unicode, 4 * width, native_byte_order()), {}));
}

void H5Writer::commit() {
  const detail::H5Guard guard;
  const detail::QuietErrors quiet;
  if (state_->committed) return;
  check(H5Fclose(state_->file.release()), state_->name + ": cannot finish writing");
  if (state_->mode == H5WriteMode::Create) {
    state_->output.commit_as_new();
  } else {
    state_->output.commit();
  }
  state_->committed = true;
}

}  // namespace ndbridge
