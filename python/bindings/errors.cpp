#include "errors.hpp"

#include <exception>

#include "ndbridge/error.hpp"

namespace py = pybind11;

namespace ndbridge::python {

namespace {

py::object error_class(const char* name) {
  return py::module_::import("ndbridge._errors").attr(name);
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
      py::set_error(error_class("FormatError"), e.what());
    } catch (const ndbridge::UnsupportedError& e) {
      py::set_error(error_class("UnsupportedError"), e.what());
    } catch (const ndbridge::UsageError& e) {
      py::set_error(error_class("UsageError"), e.what());
    } catch (const ndbridge::IOError& e) {
      // The Python side picks the OSError subclass that matches errno, so
      // callers can catch FileNotFoundError or PermissionError as usual.
      py::object exc = error_class("file_error")(e.errno_value(), e.what());
      py::set_error(py::type::of(exc), exc);
    } catch (const ndbridge::Error& e) {
      py::set_error(error_class("Error"), e.what());
    }
  });
}

}  // namespace ndbridge::python
