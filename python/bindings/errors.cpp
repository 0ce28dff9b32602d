#include "errors.hpp"

#include <exception>

#include "ndbridge/error.hpp"

namespace py = pybind11;

namespace ndbridge::python {

namespace {

py::object error_class(const char* name) {
  return py::module_::import("ndbridge._errors").attr(name);
}

// Messages quote file names, which on Linux are bytes and need not be UTF-8.
py::str message(const std::exception& e) {
  const std::string text = e.what();
  PyObject* s = PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()),
                                     "backslashreplace");
  if (s == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

}  // namespace

void register_errors(py::module_& m) {
  // Fail at import, not at the first error, if _errors.py is missing.
  (void)error_class("Error");
  (void)m;
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ndbridge::FormatError& e) {
      py::set_error(error_class("FormatError"), message(e));
    } catch (const ndbridge::UnsupportedError& e) {
      py::set_error(error_class("UnsupportedError"), message(e));
    } catch (const ndbridge::UsageError& e) {
      py::set_error(error_class("UsageError"), message(e));
    } catch (const ndbridge::NotFoundError& e) {
      py::set_error(error_class("NotFoundError"), message(e));
    } catch (const ndbridge::H5Error& e) {
      // With an errno it is an OSError like any other: e.errno, e.strerror.
      py::object exc = e.errno_value() != 0 ? error_class("H5Error")(e.errno_value(), message(e))
                                            : error_class("H5Error")(message(e));
      exc.attr("stack") = e.stack();
      py::set_error(py::type::of(exc), exc);
    } catch (const ndbridge::FileError& e) {
      // The Python side picks the OSError subclass that matches errno, so
      // callers can catch FileNotFoundError or PermissionError as usual.
      py::object exc = error_class("file_error")(e.errno_value(), message(e));
      py::set_error(py::type::of(exc), exc);
    } catch (const ndbridge::Error& e) {
      py::set_error(error_class("Error"), message(e));
    }
  });
}

}  // namespace ndbridge::python
