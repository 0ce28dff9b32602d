#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ndbridge/array.hpp"

namespace ndbridge::python {

/// How messages name a file: 'path', as the C++ library does.
inline std::string quoted(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

/// Text read from a file (names, attribute words, libhdf5's messages) or a
/// path: neither HDF5 nor zip nor Linux promises UTF-8, and a listing must
/// not fail on a damaged or Latin-1 name. Undecodable bytes become lone
/// surrogates, as os.fsdecode does, so os.fsencode gives the bytes back.
pybind11::str file_text(const std::string& text);
/// file_text() of each, as a list.
pybind11::list file_texts(const std::vector<std::string>& texts);
/// None for empty text (nothing to say), else file_text().
pybind11::object text_or_none(const std::string& text);
/// The shape as a tuple, or None.
pybind11::object shape_or_none(const std::optional<Shape>& shape);

/// A name inside a file (HDF5 object, .npz member, attribute) as a caller
/// passes it: the inverse of file_text(), so that a name list() or names()
/// gave back, escaped bytes included, finds the same object. bytes pass as
/// they are. Taken by value in binding signatures instead of std::string.
struct NameInFile {
  std::string bytes;
};

/// numpy's dtype for `dtype`, built by numpy from DType::descr() (the
/// mapping has one home) and cached per descr.
pybind11::dtype numpy_dtype(const DType& dtype);

/// Hands an Array to numpy without copying: the ndarray keeps it alive. The
/// dtype is built by numpy from DType::descr(), so the mapping has one home.
pybind11::array to_numpy(Array&& array);

/// A numpy array over `view`, whose memory `owner` keeps alive.
pybind11::array to_numpy(const ArrayView& view, pybind11::object owner, bool writable);

/// Describes a numpy array's memory as an ArrayView (no copy). Throws
/// UnsupportedError, starting with `context` (the file it was to be written
/// to), for dtypes without a C++ counterpart.
ArrayView from_numpy(const pybind11::array& array, const std::string& context);

}  // namespace ndbridge::python

namespace pybind11::detail {

template <>
struct type_caster<ndbridge::python::NameInFile> {
  PYBIND11_TYPE_CASTER(ndbridge::python::NameInFile, const_name("str"));

  bool load(handle src, bool /*convert*/) {
    if (PyBytes_Check(src.ptr())) {
      value.bytes.assign(PyBytes_AS_STRING(src.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(src.ptr())));
      return true;
    }
    if (!PyUnicode_Check(src.ptr())) return false;
    // A lone surrogate that surrogateescape cannot map to a byte is no name
    // any file can hold: the UnicodeEncodeError says which character.
    PyObject* encoded = PyUnicode_AsEncodedString(src.ptr(), "utf-8", "surrogateescape");
    if (encoded == nullptr) throw error_already_set();
    value.bytes.assign(PyBytes_AS_STRING(encoded), static_cast<std::size_t>(PyBytes_GET_SIZE(encoded)));
    Py_DECREF(encoded);
    return true;
  }

  static handle cast(const ndbridge::python::NameInFile& name, return_value_policy, handle) {
    return ndbridge::python::file_text(name.bytes).release();
  }
};

}  // namespace pybind11::detail
