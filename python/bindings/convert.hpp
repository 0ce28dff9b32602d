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
