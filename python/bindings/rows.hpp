#pragma once

// The `rows=` and `out=` arguments every reader takes, parsed here once:
// `rows` is None (everything), a (start, stop) tuple, or integer indices (a
// sequence, or an array of any shape, as numpy's fancy indexing takes
// them); `out` is a numpy array the rows are read into.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ndbridge/array.hpp"

namespace ndbridge::python {

/// What `rows=` asked for.
struct Rows {
  enum class Kind { All, Range, Picked };
  Kind kind = Kind::All;
  std::uint64_t start = 0;  ///< Range
  std::uint64_t stop = 0;   ///< Range
  /// Picked: the indices, flattened in C order.
  pybind11::array_t<std::int64_t, pybind11::array::c_style> indices;
  /// Picked: the shape of the index array (numpy gives it to the result).
  std::vector<pybind11::ssize_t> index_shape;

  /// The indices as the C++ readers take them.
  RowIndices picked() const {
    return RowIndices(indices.data(), static_cast<std::size_t>(indices.size()));
  }
};

/// Names the file (and dataset or member) in an error; called only when
/// there is one, as building the name costs a small read noticeably.
using Naming = std::function<std::string()>;

/// Parses `rows`; throws UsageError, starting with `what()` and describing
/// (never printing whole) what was given, for anything else.
Rows parse_rows(const pybind11::object& rows, const Naming& what);

/// A range as picked rows: start, start + 1, ... stop - 1.
Rows as_picked(const Rows& range);

/// `rows` for a read into `out` of an array of `shape`: everything becomes
/// the range of every row, and with `ranges_as_picked` a range becomes its
/// indices (for readers that read only picked rows into memory given).
/// Throws UsageError naming `what` for a 0-d array or a range outside.
Rows rows_for_out(const Rows& rows, const Shape& shape, const std::string& what, bool ranges_as_picked);

/// The shape a read of `rows` gives for an array of `shape`: the index
/// array's shape (or the range's length), then the shape of one row.
Shape result_shape(const Rows& rows, const Shape& shape);

/// The result of a read of picked rows, shaped as numpy's a[indices] is.
pybind11::array shaped(pybind11::array result, const Rows& rows);

/// A caller's numpy array to read into: its memory and its dtype.
struct OutBuffer {
  void* data;
  DType dtype;  ///< the stored dtype up to byte order; reads deliver this order
};

/// The memory of `out`, after checking that it is a writable C-contiguous
/// numpy array of `shape` whose dtype is `dtype` in either byte order (the
/// read converts); UsageError naming `what` otherwise.
OutBuffer out_buffer(const pybind11::object& out, const DType& dtype, const Shape& shape, const std::string& what);

}  // namespace ndbridge::python
