#pragma once

// The HDF5 side of the dtype mapping: HDF5 types <-> DType, in h5py's
// conventions. The numpy side lives in DType itself; this file is the only
// place that knows how each DType looks in HDF5.

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "detail/h5_call.hpp"
#include "ndbridge/dtype.hpp"

namespace ndbridge::detail {

/// What an HDF5 type is, as far as ndbridge is concerned.
struct H5TypeInfo {
  /// The element type data of this type is read as; absent when ndbridge
  /// cannot read it, and for variable-length strings, whose width is only
  /// known after reading.
  std::optional<DType> dtype;
  /// Variable-length string: read as unicode text (bytes when not UTF-8).
  bool vlen_string = false;
  /// Readable at all (dtype, vlen_string or object_reference).
  bool readable() const noexcept { return dtype.has_value() || vlen_string || object_reference; }
  /// A human description: "32-bit little-endian float", "h5py bool enum"...
  std::string description;
  /// Object reference (h5py's Reference): read as the referenced object's
  /// path, as h5py's f[ref].name gives it.
  bool object_reference = false;
  /// Strings: the character set the file labels them with.
  H5T_cset_t cset = H5T_CSET_ASCII;
  /// Fixed-length strings: how the file pads them.
  H5T_str_t padding = H5T_STR_NULLPAD;
};

/// Classifies an HDF5 datatype.
H5TypeInfo describe_h5_type(hid_t type);

/// The HDF5 type that stores `dtype` the way h5py does: bool as an enum
/// {FALSE=0, TRUE=1} over int8, complex as a compound {r, i}, bytes as
/// fixed-length NUL-padded ASCII, unicode as variable-length UTF-8.
Handle h5_type_for(const DType& dtype);

/// The variable-length string type: UTF-8 is h5py's str.
Handle h5_vlen_string_type(H5T_cset_t cset = H5T_CSET_UTF8);

/// The memory type to read data of `file_type` with: for numbers and fixed
/// strings an exact copy (so bytes arrive untouched, in the file's byte
/// order, as h5py gives them), for variable-length strings char* pointers
/// in the file's character set (libhdf5 converts between character sets
/// only after it has converted a UTF-8 string once in the process, so
/// asking for another would make the result depend on what was read before).
Handle h5_memory_type(hid_t file_type, const H5TypeInfo& info);

/// Bytes one element of `file_type` takes where `object` (any object of
/// the file) stores it: its size, but for a variable-length string the
/// global heap reference (a 4-byte length, an address, a 4-byte index); 0
/// for other variable-length types and references, whose stored size
/// ndbridge does not need. Throws H5Error naming `what`.
std::uint64_t h5_stored_element_size(hid_t object, hid_t file_type, const std::string& what);

/// Fixed-length strings `data` (`count` of `info.dtype`'s size, as read
/// with h5_memory_type) padded as h5py gives them, which is what libhdf5's
/// conversion to NUL padding makes of them: trailing spaces of
/// space-padded strings and everything after the first NUL of
/// NUL-terminated ones become NULs. Anything else is left as it is.
void unpad_strings(const H5TypeInfo& info, std::byte* data, std::uint64_t count);

}  // namespace ndbridge::detail
