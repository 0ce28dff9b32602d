#include "rows.hpp"

#include <pybind11/stl.h>

#include <limits>
#include <optional>
#include <utility>

#include "convert.hpp"
#include "ndbridge/error.hpp"

namespace py = pybind11;

namespace ndbridge::python {

namespace {

// What was given, in a few words: an index array of a million rows must not
// become a message of a million numbers.
std::string describe(const py::handle& rows) {
  if (py::isinstance<py::array>(rows)) {
    const py::array a = py::reinterpret_borrow<py::array>(rows);
    return "a " + py::str(a.dtype()).cast<std::string>() + " array of shape " +
           py::repr(a.attr("shape")).cast<std::string>();
  }
  const std::string text = py::repr(rows).cast<std::string>();
  if (text.size() <= 60) return text;
  std::string out = "a " + py::str(py::type::of(rows).attr("__name__")).cast<std::string>();
  if (PySequence_Check(rows.ptr())) out += " of " + std::to_string(py::len(rows)) + " items";
  return out;
}

UsageError bad_rows(const py::handle& rows, const Naming& what) {
  return UsageError(what() + ": rows must be a (start, stop) tuple of non-negative integers or a sequence or array "
                    "of integer row indices, not " + describe(rows));
}

// A (start, stop) tuple. Two exact ints, the common spelling, are read with
// the C API directly: the generic path costs about a microsecond, which a
// small read of narrow rows notices.
Rows parse_range(const py::object& rows, const Naming& what) {
  Rows r;
  r.kind = Rows::Kind::Range;
  PyObject* t = rows.ptr();
  if (PyTuple_GET_SIZE(t) != 2) throw bad_rows(rows, what);
  PyObject* a = PyTuple_GET_ITEM(t, 0);
  PyObject* b = PyTuple_GET_ITEM(t, 1);
  if (PyLong_CheckExact(a) && PyLong_CheckExact(b)) {
    r.start = PyLong_AsUnsignedLongLong(a);
    r.stop = PyLong_AsUnsignedLongLong(b);
    if (PyErr_Occurred()) {  // negative, or past 64 bits
      PyErr_Clear();
      throw bad_rows(rows, what);
    }
    return r;
  }
  std::uint64_t out[2];
  for (std::size_t k = 0; k < 2; ++k) {
    const py::handle v = PyTuple_GET_ITEM(t, k);
    if (py::isinstance<py::bool_>(v) || !py::hasattr(v, "__index__")) throw bad_rows(rows, what);
    const py::object value = v.attr("__index__")();
    if (value.cast<py::int_>() < py::int_(0)) throw bad_rows(rows, what);
    out[k] = value.cast<std::uint64_t>();
  }
  r.start = out[0];
  r.stop = out[1];
  return r;
}

}  // namespace

Rows parse_rows(const py::object& rows, const Naming& what) {
  Rows r;
  if (rows.is_none()) return r;
  if (PyTuple_Check(rows.ptr())) return parse_range(rows, what);
  const bool array_like = py::isinstance<py::array>(rows) ||
                          (PySequence_Check(rows.ptr()) && !py::isinstance<py::str>(rows) &&
                           !py::isinstance<py::bytes>(rows) && !py::isinstance<py::bytearray>(rows));
  if (!array_like) throw bad_rows(rows, what);
  const py::array given = py::array::ensure(rows);
  if (!given) throw bad_rows(rows, what);
  r.kind = Rows::Kind::Picked;
  r.index_shape.assign(given.shape(), given.shape() + given.ndim());
  const char kind = given.dtype().kind();
  if (given.size() != 0) {
    if (kind == 'b') {
      throw UsageError(what() + ": rows must be row indices, not a boolean mask (" + describe(rows) +
                       "); pass numpy.flatnonzero(mask) for the rows it marks");
    }
    if (kind != 'i' && kind != 'u') throw bad_rows(rows, what);
    if (kind == 'u' && given.dtype().itemsize() == 8 &&
        given.attr("max")().cast<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      throw UsageError(what() + ": row index " + py::str(given.attr("max")()).cast<std::string>() +
                       " is beyond any first axis");
    }
  }
  r.indices = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(given.attr("reshape")(-1));
  if (!r.indices) throw py::error_already_set();
  return r;
}

Rows as_picked(const Rows& range) {
  Rows r;
  r.kind = Rows::Kind::Picked;
  const std::uint64_t n = range.stop > range.start ? range.stop - range.start : 0;
  r.index_shape = {static_cast<py::ssize_t>(n)};
  r.indices = py::array_t<std::int64_t, py::array::c_style>(static_cast<py::ssize_t>(n));
  std::int64_t* p = r.indices.mutable_data();
  for (std::uint64_t i = 0; i < n; ++i) p[i] = static_cast<std::int64_t>(range.start + i);
  return r;
}

Rows rows_for_out(const Rows& rows, const Shape& shape, const std::string& what, bool ranges_as_picked) {
  Rows asked = rows;
  if (asked.kind == Rows::Kind::All) {
    if (shape.empty()) throw UsageError(what + ": a 0-d array has no rows to read into out");
    asked.kind = Rows::Kind::Range;
    asked.stop = shape[0];
  }
  if (asked.kind == Rows::Kind::Range) {
    check_row_range(shape, asked.start, asked.stop, what);
    if (ranges_as_picked) asked = as_picked(asked);
  }
  return asked;
}

Shape result_shape(const Rows& rows, const Shape& shape) {
  Shape out;
  if (rows.kind == Rows::Kind::All) return shape;
  if (rows.kind == Rows::Kind::Range) {
    out.push_back(rows.stop - rows.start);
  } else {
    out.assign(rows.index_shape.begin(), rows.index_shape.end());
  }
  if (!shape.empty()) out.insert(out.end(), shape.begin() + 1, shape.end());
  return out;
}

py::array shaped(py::array result, const Rows& rows) {
  if (rows.kind != Rows::Kind::Picked || rows.index_shape.size() == 1) return result;
  std::vector<py::ssize_t> shape(rows.index_shape);
  shape.insert(shape.end(), result.shape() + 1, result.shape() + result.ndim());
  return result.attr("reshape")(py::tuple(py::cast(shape))).cast<py::array>();
}

OutBuffer out_buffer(const py::object& out, const DType& dtype, const Shape& shape, const std::string& what) {
  if (!py::isinstance<py::array>(out)) {
    throw UsageError(what + ": out must be a numpy array, not " +
                     py::str(py::type::of(out).attr("__name__")).cast<std::string>());
  }
  py::array a = out.cast<py::array>();
  const std::string descr = a.dtype().attr("str").cast<std::string>();
  const Shape given(a.shape(), a.shape() + a.ndim());
  if (!a.writeable() || !(a.flags() & py::array::c_style)) {
    throw UsageError(what + ": out must be a writable C-contiguous array");
  }
  std::optional<DType> given_dtype;
  try {
    given_dtype = DType::from_descr(descr);
  } catch (const UnsupportedError&) {
  }
  if (!given_dtype || given_dtype->native() != dtype.native() || given != shape) {
    std::string want = "(";
    for (std::size_t k = 0; k < shape.size(); ++k) want += (k ? ", " : "") + std::to_string(shape[k]);
    want += shape.size() == 1 ? ",)" : ")";
    throw UsageError(what + ": out must be a " + dtype.descr() + " array (in either byte order) of shape " +
                     want + ", not " + describe(out));
  }
  return OutBuffer{a.mutable_data(), *given_dtype};
}

}  // namespace ndbridge::python
