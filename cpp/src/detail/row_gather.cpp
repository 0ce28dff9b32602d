#include "detail/row_gather.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "ndbridge/error.hpp"

namespace ndbridge::detail {

namespace {

// Appends a copy, merged into the last one when both sides continue it.
void push(std::vector<Copy>& copies, std::uint64_t from, std::uint64_t to, std::uint64_t bytes) {
  if (!copies.empty()) {
    Copy& last = copies.back();
    if (last.from + last.bytes == from && last.to + last.bytes == to) {
      last.bytes += bytes;
      return;
    }
  }
  copies.push_back({from, to, bytes});
}

std::uint64_t inner_elements(const Shape& shape) {
  std::uint64_t n = 1;
  for (std::size_t k = 1; k < shape.size(); ++k) n *= shape[k];
  return n;
}

}  // namespace

std::vector<std::uint64_t> resolve_rows(RowIndices indices, const Shape& shape, const std::string& what) {
  if (shape.empty()) throw UsageError(what + ": a 0-d array has no rows to select");
  const std::uint64_t length = shape[0];
  std::vector<std::uint64_t> rows;
  rows.reserve(indices.size());
  for (const std::int64_t index : indices) {
    const std::uint64_t magnitude =
        index < 0 ? std::uint64_t{0} - static_cast<std::uint64_t>(index) : static_cast<std::uint64_t>(index);
    if ((index >= 0 && magnitude >= length) || (index < 0 && magnitude > length)) {
      throw UsageError(what + ": row index " + std::to_string(index) +
                       " is outside the first axis of length " + std::to_string(length));
    }
    rows.push_back(index >= 0 ? magnitude : length - magnitude);
  }
  return rows;
}

Shape picked_shape(const Shape& shape, std::uint64_t rows) {
  Shape out = shape;
  out[0] = rows;
  return out;
}

std::uint64_t buffer_bytes(const Shape& shape, std::uint64_t rows, std::size_t itemsize, std::uint64_t given,
                           const std::string& what) {
  const std::uint64_t nbytes = checked_element_count(picked_shape(shape, rows), itemsize, what) * itemsize;
  if (given != nbytes) {
    throw UsageError(what + ": " + std::to_string(rows) + " rows take " + std::to_string(nbytes) +
                     " bytes, not the " + std::to_string(given) + " bytes given");
  }
  return nbytes;
}

GatherPlan plan_rows(const StoredLayout& layout, const std::vector<std::uint64_t>& rows, bool out_fortran,
                     ReadOrder read_order) {
  GatherPlan plan;
  const std::uint64_t inner = inner_elements(layout.shape);
  if (rows.empty() || inner == 0 || layout.itemsize == 0) return plan;
  // Rows in source order (a stable sort keeps repeats in output order), or
  // as requested.
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  const bool sorted = read_order == ReadOrder::Source;
  if (sorted) {
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return rows[a] < rows[b]; });
  }
  const std::uint64_t k = rows.size();
  const std::uint64_t n = layout.shape[0];
  const std::uint64_t item = layout.itemsize;
  // Row-major storage keeps each row whole; column-major spreads a row over
  // every column, one element in each.
  const bool by_column = layout.fortran && layout.shape.size() > 1;
  const std::uint64_t blocks = by_column ? inner : 1;
  const std::uint64_t unit = by_column ? item : inner * item;
  for (std::uint64_t j = 0; j < blocks; ++j) {
    std::uint64_t previous_row = 0, previous_to = 0;
    bool first = true;
    for (const std::size_t p : order) {
      const std::uint64_t row = rows[p];
      const std::uint64_t from = layout.base + (by_column ? (j * n + row) * item : row * unit);
      const std::uint64_t to = !by_column ? p * unit : out_fortran ? (j * k + p) * item : (p * inner + j) * item;
      if (sorted && !first && row == previous_row) {
        push(plan.repeats, previous_to, to, unit);
        continue;
      }
      push(plan.reads, from, to, unit);
      first = false;
      previous_row = row;
      previous_to = to;
    }
  }
  return plan;
}

GatherPlan plan_range(const StoredLayout& layout, std::uint64_t start, std::uint64_t stop, bool out_fortran) {
  GatherPlan plan;
  const std::uint64_t inner = inner_elements(layout.shape);
  const std::uint64_t k = stop - start;
  if (k == 0 || inner == 0 || layout.itemsize == 0) return plan;
  const std::uint64_t item = layout.itemsize;
  if (!layout.fortran || layout.shape.size() == 1) {
    push(plan.reads, layout.base + start * inner * item, 0, k * inner * item);
    return plan;
  }
  const std::uint64_t n = layout.shape[0];
  for (std::uint64_t j = 0; j < inner; ++j) {
    const std::uint64_t from = layout.base + (j * n + start) * item;
    if (out_fortran) {
      push(plan.reads, from, j * k * item, k * item);
    } else {
      for (std::uint64_t p = 0; p < k; ++p) push(plan.reads, from + p * item, (p * inner + j) * item, item);
    }
  }
  return plan;
}

void run_plan(const GatherPlan& plan, std::byte* out, const Fetch& fetch) {
  for (const Copy& c : plan.reads) fetch(out + c.to, c.from, c.bytes);
  for (const Copy& c : plan.repeats) std::memcpy(out + c.to, out + c.from, static_cast<std::size_t>(c.bytes));
}

void ForwardFetch::read(std::byte* out, std::uint64_t bytes) {
  const std::size_t got = source_.read_at(out, static_cast<std::size_t>(bytes), position_);
  if (got != bytes) {
    throw FormatError(source_.name() + ": the data ends after " + std::to_string(position_ + got) +
                      " bytes, before the rows asked for");
  }
  position_ += bytes;
}

void ForwardFetch::operator()(std::byte* out, std::uint64_t from, std::uint64_t bytes) {
  constexpr std::uint64_t kPiece = std::uint64_t{1} << 20;
  while (position_ < from) {
    scratch_.resize(static_cast<std::size_t>(std::min(kPiece, from - position_)));
    read(scratch_.data(), scratch_.size());
  }
  read(out, bytes);
}

}  // namespace ndbridge::detail
