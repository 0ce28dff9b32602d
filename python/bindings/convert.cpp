#include "convert.hpp"

#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace py = pybind11;

namespace ndbridge::python {

py::str file_text(const std::string& text) {
  PyObject* out = PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "surrogateescape");
  if (out == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(out);
}

py::object text_or_none(const std::string& text) {
  return text.empty() ? py::object(py::none()) : py::object(file_text(text));
}

py::object shape_or_none(const std::optional<Shape>& shape) {
  return shape ? py::object(py::tuple(py::cast(*shape))) : py::object(py::none());
}

py::list file_texts(const std::vector<std::string>& texts) {
  py::list out;
  for (const std::string& text : texts) out.append(file_text(text));
  return out;
}

py::dtype numpy_dtype(const DType& dtype) {
  // np.dtype("<U7") etc.: numpy's own parser, not pybind11's buffer-format
  // one. Parsing costs about a microsecond, which small row reads notice, so
  // each descr is parsed once. Only ever touched with the GIL held; never
  // freed, because it may outlive the interpreter's teardown.
  static auto* cache = new std::unordered_map<std::string, py::dtype>();
  std::string descr = dtype.descr();
  auto found = cache->find(descr);
  if (found == cache->end()) {
    py::dtype parsed = py::dtype::from_args(py::str(descr));
    found = cache->emplace(std::move(descr), std::move(parsed)).first;
  }
  return found->second;
}

py::array to_numpy(const ArrayView& view, py::object owner, bool writable) {
  std::vector<py::ssize_t> shape(view.shape().begin(), view.shape().end());
  std::vector<py::ssize_t> strides(view.strides().begin(), view.strides().end());
  py::array out(numpy_dtype(view.dtype()), std::move(shape), std::move(strides), view.data(),
                owner);
  if (!writable) out.attr("flags").attr("writeable") = false;
  return out;
}

py::array to_numpy(Array&& array) {
  auto* owned = new Array(std::move(array));
  py::capsule owner(owned, [](void* p) { delete static_cast<Array*>(p); });
  return to_numpy(owned->view(), owner, owned->writable());
}

ArrayView from_numpy(const py::array& array, const std::string& context) {
  const auto descr = array.dtype().attr("str").cast<std::string>();
  // Structured dtypes spell themselves "|V<n>", which from_descr refuses.
  std::optional<DType> dtype;
  try {
    dtype = DType::from_descr(descr);
  } catch (const Error& e) {
    throw UnsupportedError(context + ": cannot store this array: " + e.what());
  }
  Shape shape(array.shape(), array.shape() + array.ndim());
  std::vector<std::int64_t> strides(array.strides(), array.strides() + array.ndim());
  return ArrayView(array.data(), *dtype, std::move(shape), std::move(strides));
}

}  // namespace ndbridge::python
