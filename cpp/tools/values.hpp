#pragma once

// Elements of an ndbridge::Array as text: the way `ndbridge-cat` prints
// values, and the one-line previews `ndbridge-ls` shows for attributes.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "ndbridge/array.hpp"

namespace ndbridge::tools {

/// Python's repr() of a float, with the shortest digits that read back as
/// the same value: a float (`single`) or a double.
std::string float_repr(double value, bool single);

/// One element (in native byte order) as Python prints it: True/False,
/// integers, floats by float_repr at the element's own precision, complex as
/// (a+bj), bytes as b'...', text quoted as repr() quotes it.
std::string element_repr(const DType& dtype, const std::byte* element);

/// Calls `visit(element)` for every element of `view` in C order.
void for_each_element(const ArrayView& view, const std::function<void(const std::byte*)>& visit);

/// A one-line preview of at most `limit` characters: one element as
/// element_repr() writes it, or "[a b c ... x y z]" (the shape first for two
/// axes or more), in any byte order.
std::string preview(const Array& value, std::size_t limit = 60);

}  // namespace ndbridge::tools
