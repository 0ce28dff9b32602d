#include "detail/h5_types.hpp"

#include <cstring>
#include <string>
#include <vector>

#include "ndbridge/error.hpp"

namespace ndbridge::detail {

namespace {

ByteOrder order_of(hid_t type) {
  return H5Tget_order(type) == H5T_ORDER_BE ? ByteOrder::Big : ByteOrder::Little;
}

std::string order_name(ByteOrder order) {
  return order == ByteOrder::Big ? "big-endian" : "little-endian";
}

// An HDF5 string freed with H5free_memory, as HDF5 requires.
std::string take_name(char* name) {
  std::string out = name ? name : "";
  if (name) H5free_memory(name);
  return out;
}

// True when `type` is an IEEE 754 binary16/32/64 layout of its size.
bool is_ieee_float(hid_t type, std::size_t size) {
  std::size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
  if (H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) < 0) return false;
  const std::size_t bias = H5Tget_ebias(type);
  struct Layout {
    std::size_t size, spos, epos, esize, msize, bias;
  };
  for (const Layout& l : {Layout{2, 15, 10, 5, 10, 15}, Layout{4, 31, 23, 8, 23, 127},
                          Layout{8, 63, 52, 11, 52, 1023}}) {
    if (size == l.size) {
      return spos == l.spos && epos == l.epos && esize == l.esize && mpos == 0 &&
             msize == l.msize && bias == l.bias && H5Tget_offset(type) == 0;
    }
  }
  return false;
}

H5TypeInfo describe_integer(hid_t type) {
  const std::size_t size = H5Tget_size(type);
  const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
  const ByteOrder order = order_of(type);
  H5TypeInfo info;
  info.description = std::to_string(size * 8) + "-bit " + order_name(order) + " " +
                     (is_signed ? "signed" : "unsigned") + " integer";
  const bool plain = (size == 1 || size == 2 || size == 4 || size == 8) &&
                     H5Tget_precision(type) == size * 8 && H5Tget_offset(type) == 0;
  if (plain) info.dtype = DType(is_signed ? Kind::Int : Kind::UInt, size, order);
  else info.description += " with " + std::to_string(H5Tget_precision(type)) + " bits of precision";
  return info;
}

H5TypeInfo describe_float(hid_t type) {
  const std::size_t size = H5Tget_size(type);
  const ByteOrder order = order_of(type);
  H5TypeInfo info;
  if (is_ieee_float(type, size)) {
    info.dtype = DType(Kind::Float, size, order);
    info.description = std::to_string(size * 8) + "-bit " + order_name(order) + " float";
  } else {
    info.description = std::to_string(size * 8) + "-bit non-IEEE float";
  }
  return info;
}

H5TypeInfo describe_enum(hid_t type) {
  H5TypeInfo info;
  const Handle base(H5Tget_super(type));
  const int members = H5Tget_nmembers(type);
  const H5TypeInfo base_info = base.get() >= 0 ? describe_integer(base.get()) : H5TypeInfo{};
  // h5py's bool: {FALSE = 0, TRUE = 1} over a one-byte integer.
  if (members == 2 && H5Tget_size(type) == 1) {
    bool is_bool = true;
    for (unsigned k = 0; k < 2; ++k) {
      const std::string name = take_name(H5Tget_member_name(type, k));
      signed char value = -1;
      if (H5Tget_member_value(type, k, &value) < 0) is_bool = false;
      if (!((name == "FALSE" && value == 0) || (name == "TRUE" && value == 1))) is_bool = false;
    }
    if (is_bool) {
      info.dtype = DType(Kind::Bool, 1, ByteOrder::NotApplicable);
      info.description = "h5py bool enum";
      return info;
    }
  }
  // Other enums read as their integers, as h5py reads them.
  info.dtype = base_info.dtype;
  info.description = "enum of " + std::to_string(members) + " values over " + base_info.description;
  return info;
}

H5TypeInfo describe_compound(hid_t type) {
  H5TypeInfo info;
  const int members = H5Tget_nmembers(type);
  std::vector<std::string> names;
  for (int k = 0; k < members; ++k) {
    names.push_back(take_name(H5Tget_member_name(type, static_cast<unsigned>(k))));
  }
  const std::size_t size = H5Tget_size(type);
  if (members == 2 && ((names[0] == "r" && names[1] == "i") ||
                       (names[0] == "real" && names[1] == "imag"))) {
    const Handle re(H5Tget_member_type(type, 0));
    const Handle im(H5Tget_member_type(type, 1));
    const std::size_t half = size / 2;
    const bool parts_ok =
        re.get() >= 0 && im.get() >= 0 && (half == 4 || half == 8) && size == 2 * half &&
        H5Tget_class(re.get()) == H5T_FLOAT && H5Tget_class(im.get()) == H5T_FLOAT &&
        H5Tget_size(re.get()) == half && H5Tget_size(im.get()) == half &&
        is_ieee_float(re.get(), half) && is_ieee_float(im.get(), half) &&
        H5Tget_order(re.get()) == H5Tget_order(im.get()) && H5Tget_member_offset(type, 0) == 0 &&
        H5Tget_member_offset(type, 1) == half;
    if (parts_ok) {
      const ByteOrder order = order_of(re.get());
      info.dtype = DType(Kind::Complex, size, order);
      info.description = std::to_string(size * 8) + "-bit " + order_name(order) +
                         " complex (h5py compound {" + names[0] + ", " + names[1] + "})";
      return info;
    }
  }
  std::string fields;
  for (const auto& n : names) fields += (fields.empty() ? "" : ", ") + n;
  info.description = "compound {" + fields + "}";
  return info;
}

H5TypeInfo describe_string(hid_t type) {
  H5TypeInfo info;
  info.cset = H5Tget_cset(type);
  const bool utf8 = info.cset == H5T_CSET_UTF8;
  if (check_tri(H5Tis_variable_str(type), "cannot inspect a string type")) {
    info.vlen_string = true;
    info.description = std::string("variable-length ") + (utf8 ? "UTF-8" : "ASCII") + " string";
    return info;
  }
  const std::size_t size = H5Tget_size(type);
  info.description = std::to_string(size) + "-byte fixed-length " + (utf8 ? "UTF-8" : "ASCII") + " string";
  info.padding = H5Tget_strpad(type);
  if (info.padding == H5T_STR_SPACEPAD) info.description += ", space-padded";
  if (info.padding == H5T_STR_NULLTERM) info.description += ", NUL-terminated";
  if (size >= 1) info.dtype = DType(Kind::Bytes, size, ByteOrder::NotApplicable);
  return info;
}

}  // namespace

H5TypeInfo describe_h5_type(hid_t type) {
  switch (H5Tget_class(type)) {
    case H5T_INTEGER: return describe_integer(type);
    case H5T_FLOAT: return describe_float(type);
    case H5T_ENUM: return describe_enum(type);
    case H5T_COMPOUND: return describe_compound(type);
    case H5T_STRING: return describe_string(type);
    case H5T_BITFIELD: return {std::nullopt, false, "bitfield"};
    case H5T_OPAQUE: return {std::nullopt, false, "opaque"};
    case H5T_REFERENCE: {
      H5TypeInfo info{std::nullopt, false, "region reference"};
      if (H5Tequal(type, H5T_STD_REF_OBJ) > 0) {
        info.object_reference = true;
        info.description = "object reference";
      }
      return info;
    }
    case H5T_VLEN: return {std::nullopt, false, "variable-length sequence"};
    case H5T_ARRAY: return {std::nullopt, false, "array type"};
    case H5T_TIME: return {std::nullopt, false, "time"};
    default: return {std::nullopt, false, "unknown type class"};
  }
}

Handle h5_vlen_string_type(H5T_cset_t cset) {
  Handle t = own(H5Tcopy(H5T_C_S1), "cannot create a string type");
  check(H5Tset_size(t.get(), H5T_VARIABLE), "cannot create a string type");
  check(H5Tset_cset(t.get(), cset), "cannot create a string type");
  return t;
}

Handle h5_type_for(const DType& dtype) {
  const bool big = dtype.byte_order() == ByteOrder::Big;
  const std::string what = "cannot build the HDF5 type for " + dtype.descr();
  switch (dtype.kind()) {
    case Kind::Bool: {
      Handle t = own(H5Tenum_create(H5T_STD_I8LE), what);
      const signed char no = 0, yes = 1;
      check(H5Tenum_insert(t.get(), "FALSE", &no), what);
      check(H5Tenum_insert(t.get(), "TRUE", &yes), what);
      return t;
    }
    case Kind::Int:
    case Kind::UInt: {
      const bool s = dtype.kind() == Kind::Int;
      hid_t base = H5I_INVALID_HID;
      switch (dtype.itemsize()) {
        case 1: base = s ? H5T_STD_I8LE : H5T_STD_U8LE; break;
        case 2: base = s ? (big ? H5T_STD_I16BE : H5T_STD_I16LE) : (big ? H5T_STD_U16BE : H5T_STD_U16LE); break;
        case 4: base = s ? (big ? H5T_STD_I32BE : H5T_STD_I32LE) : (big ? H5T_STD_U32BE : H5T_STD_U32LE); break;
        default: base = s ? (big ? H5T_STD_I64BE : H5T_STD_I64LE) : (big ? H5T_STD_U64BE : H5T_STD_U64LE); break;
      }
      return own(H5Tcopy(base), what);
    }
    case Kind::Float: {
      if (dtype.itemsize() == 2) {
        // IEEE binary16 does not exist as a predefined type before HDF5 1.14;
        // h5py derives it from binary32 exactly like this.
        Handle t = own(H5Tcopy(big ? H5T_IEEE_F32BE : H5T_IEEE_F32LE), what);
        check(H5Tset_fields(t.get(), 15, 10, 5, 0, 10), what);
        check(H5Tset_size(t.get(), 2), what);
        check(H5Tset_ebias(t.get(), 15), what);
        return t;
      }
      if (dtype.itemsize() == 4) return own(H5Tcopy(big ? H5T_IEEE_F32BE : H5T_IEEE_F32LE), what);
      return own(H5Tcopy(big ? H5T_IEEE_F64BE : H5T_IEEE_F64LE), what);
    }
    case Kind::Complex: {
      const std::size_t half = dtype.itemsize() / 2;
      const Handle part = h5_type_for(DType(Kind::Float, half, dtype.byte_order()));
      Handle t = own(H5Tcreate(H5T_COMPOUND, dtype.itemsize()), what);
      check(H5Tinsert(t.get(), "r", 0, part.get()), what);
      check(H5Tinsert(t.get(), "i", half, part.get()), what);
      return t;
    }
    case Kind::Bytes: {
      Handle t = own(H5Tcopy(H5T_C_S1), what);
      check(H5Tset_size(t.get(), dtype.itemsize()), what);
      check(H5Tset_strpad(t.get(), H5T_STR_NULLPAD), what);
      return t;
    }
    case Kind::Unicode: return h5_vlen_string_type();
  }
  throw UnsupportedError(what);
}

Handle h5_memory_type(hid_t file_type, const H5TypeInfo& info) {
  if (info.vlen_string) return h5_vlen_string_type(info.cset);
  return own(H5Tcopy(file_type), "cannot copy an HDF5 type");
}

std::uint64_t h5_stored_element_size(hid_t object, hid_t file_type, const std::string& what) {
  if (check_tri(H5Tis_variable_str(file_type), what + ": cannot read the type")) {
    // A variable-length string is stored as a global heap reference: a
    // 4-byte length, the heap collection's address, a 4-byte index.
    const Handle file = own(H5Iget_file_id(object), what + ": cannot find its file");
    const Handle fcpl = own(H5Fget_create_plist(file.get()), what + ": cannot read the file's settings");
    std::size_t address_size = 0, length_size = 0;
    check(H5Pget_sizes(fcpl.get(), &address_size, &length_size), what + ": cannot read the file's settings");
    return 4 + address_size + 4;
  }
  if (H5Tdetect_class(file_type, H5T_VLEN) != 0 || H5Tget_class(file_type) == H5T_REFERENCE) {
    return 0;  // sizes in memory and in the file differ
  }
  return H5Tget_size(file_type);
}

void unpad_strings(const H5TypeInfo& info, std::byte* data, std::uint64_t count) {
  if (!info.dtype || info.dtype->kind() != Kind::Bytes || info.padding == H5T_STR_NULLPAD) return;
  const std::size_t size = info.dtype->itemsize();
  for (std::uint64_t i = 0; i < count; ++i) {
    auto* s = reinterpret_cast<char*>(data + i * size);
    if (info.padding == H5T_STR_SPACEPAD) {
      for (std::size_t n = size; n > 0 && s[n - 1] == ' '; --n) s[n - 1] = '\0';
    } else if (info.padding == H5T_STR_NULLTERM) {
      const auto* end = static_cast<const char*>(std::memchr(s, '\0', size));
      if (end != nullptr) std::memset(s + (end - s), 0, size - static_cast<std::size_t>(end - s));
    }
  }
}

}  // namespace ndbridge::detail
