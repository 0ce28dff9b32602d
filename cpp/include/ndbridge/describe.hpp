#pragma once

// What is inside an .npy, .npz or HDF5 file, as ndbridge reads it, without
// reading the arrays: the facts `ndbridge ls` (Python) and `ndbridge-ls`
// (C++) both print, each in its own layout.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ndbridge/array.hpp"
#include "ndbridge/dtype.hpp"
#include "ndbridge/format.hpp"

namespace ndbridge {

/// One attribute of an HDF5 group or dataset.
struct AttributeDescription {
  std::string name;  ///< as stored
  /// The value as H5File::attributes() reads it (scalars 0-d), or nothing
  /// when ndbridge does not read it.
  std::optional<Array> value;
  /// When there is no value: why (a type ndbridge does not read, a damaged
  /// attribute).
  std::string unreadable_reason;
};

/// One mapping of an HDF5 virtual dataset (VDS) onto a source file: a
/// source dataset in some file that supplies part of the virtual dataset's
/// elements. H5File::list() gives the same type, as H5VirtualSource.
struct VirtualSourceDescription {
  /// The source file name as the mapping stores it: relative names are
  /// looked up where HDF5 looks (HDF5_VDS_PREFIX, then the folder of the
  /// file holding the virtual dataset, then the working directory); "."
  /// is the file itself.
  std::string file;
  /// The source dataset inside that file.
  std::string dataset;
  /// The file HDF5 will read for this mapping, or empty when no place it
  /// looks holds one (HDF5 would then silently read the fill value;
  /// H5File::read() throws FileError instead).
  std::filesystem::path found;
};

/// One array, group or other object in a file.
struct EntryDescription {
  /// What the entry is: anything that holds an array (an .npy file, an .npz
  /// member, an HDF5 dataset), an HDF5 group, an HDF5 named datatype, or
  /// anything else HDF5 links to.
  enum class Kind { Array, Group, NamedType, Other };

  /// The HDF5 path ("/g/x"), the .npz member name without ".npy", or empty
  /// for an .npy file's one array.
  std::string name;
  Kind kind = Kind::Other;  ///< array, group, ...
  /// Arrays: the element type, or nothing when it has no fixed dtype
  /// (variable-length strings, read as "<U" text) or ndbridge cannot read it.
  std::optional<DType> dtype;
  /// Arrays: the dimensions; nothing for HDF5's null dataspace and for an
  /// object libhdf5 cannot open.
  std::optional<Shape> shape;
  /// Arrays: whether ndbridge reads it here.
  bool readable = false;
  /// Arrays that are not readable: why.
  std::string unreadable_reason;
  /// HDF5: libhdf5's description of the element type (or a named
  /// datatype's); empty elsewhere.
  std::string type;
  /// .npy data (a file or an .npz member): whether it is in Fortran order.
  std::optional<bool> fortran_order;
  /// HDF5 datasets: "contiguous", "compact", "chunked" or "virtual"; else empty.
  std::string layout;
  /// HDF5 chunked datasets: the chunk dimensions.
  std::optional<Shape> chunks;
  /// The filters the data goes through, in order: HDF5's ("shuffle",
  /// "gzip", "lzf", "filter 32001 (blosc)"...) or "deflate" for a
  /// compressed .npz member.
  std::vector<std::string> filters;
  /// Bytes the data takes in the file, where known: .npy data, .npz members
  /// (compressed size), HDF5 datasets of a fixed-size dtype (after filters).
  std::optional<std::uint64_t> stored_bytes;
  /// Bytes of the array in memory, where the dtype and shape say it.
  std::optional<std::uint64_t> nbytes;
  /// HDF5 virtual datasets: every mapping, in the order HDF5 stores them.
  std::vector<VirtualSourceDescription> virtual_sources;
  /// Why libhdf5 cannot open this object (a newer format version than it
  /// reads, a damaged header), else empty: only `name` and `kind` are known then.
  std::string error;
  /// HDF5 attributes, in the order h5py lists them.
  std::vector<AttributeDescription> attributes;
};

/// "array", "group", "datatype" or "other": the names the listings use.
const char* kind_name(EntryDescription::Kind kind) noexcept;

/// Everything in one file, as describe() finds it.
struct FileDescription {
  std::filesystem::path path;  ///< as given
  FileFormat format = FileFormat::Npy;  ///< as detect_format() tells it
  std::uint64_t size = 0;  ///< the file's bytes
  /// In file order: the .npy file's array, the .npz members in archive
  /// order, or the HDF5 objects depth first from the root group "/" (as
  /// H5File::list() gives them).
  std::vector<EntryDescription> entries;

  /// (entry name, source file) for every virtual dataset's source file that
  /// is missing.
  std::vector<std::pair<std::string, std::string>> missing_sources() const;
};

/// Describes `path` (any format detect_format() tells) without reading its
/// arrays; HDF5 attribute values are read. An HDF5 object libhdf5 cannot
/// open, or an attribute ndbridge cannot read, is described with the reason
/// and does not stop the rest. Throws FormatError for a file that is no
/// array file or is malformed, UnsupportedError for HDF5 in a build without
/// it, FileError when the file cannot be read. Safe to call from several
/// threads at once: each call opens the file for itself.
FileDescription describe(const std::filesystem::path& path);

}  // namespace ndbridge
