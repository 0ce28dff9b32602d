#pragma once

// Gathering rows picked by index (RowIndices) from wherever an array's
// elements lie: a file read with pread, a memory map, or a stream that only
// goes forwards (an inflating .npz member). A plan lists the copies in
// source order, so each source byte is read once and a forward-only source
// is read straight through; a repeated row is copied from the source once
// and then within the output.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "detail/source.hpp"
#include "ndbridge/array.hpp"

namespace ndbridge::detail {

/// `indices` checked against the first axis of `shape` and made
/// non-negative (numpy's rule: -1 is the last row). Throws UsageError
/// naming `what` for a 0-d shape or an index outside the axis.
std::vector<std::uint64_t> resolve_rows(RowIndices indices, const Shape& shape, const std::string& what);

/// `shape` with its first axis `rows` long: the shape of picked rows.
Shape picked_shape(const Shape& shape, std::uint64_t rows);

/// The bytes `rows` rows of `shape` take in `itemsize`-byte elements, after
/// checking that a caller's buffer of `given` bytes holds exactly that
/// (UsageError naming `what` otherwise).
std::uint64_t buffer_bytes(const Shape& shape, std::uint64_t rows, std::size_t itemsize, std::uint64_t given,
                           const std::string& what);

/// One copy: `bytes` bytes from offset `from` to offset `to` of the output.
struct Copy {
  std::uint64_t from;
  std::uint64_t to;
  std::uint64_t bytes;
};

/// The copies that gather rows: `reads` from the source, then `repeats`
/// within the output (their `from` is an output offset).
struct GatherPlan {
  std::vector<Copy> reads;
  std::vector<Copy> repeats;
};

/// How an array's elements lie in a source.
struct StoredLayout {
  Shape shape;
  std::size_t itemsize = 0;
  bool fortran = false;    ///< column-major (numpy's fortran_order)
  std::uint64_t base = 0;  ///< source offset of the first element
};

/// In which order a plan reads its source.
enum class ReadOrder {
  Source,   ///< increasing offsets, each byte once: for sources that only go forwards
  Request,  ///< the rows as requested, repeats read again: for random access (a
            ///< map, pread), where sorting costs more than it saves
};

/// The plan for `rows` (resolved) of `layout` into an output in C order, or
/// in Fortran order when `out_fortran`.
GatherPlan plan_rows(const StoredLayout& layout, const std::vector<std::uint64_t>& rows, bool out_fortran,
                     ReadOrder order);

/// The plan for rows [start, stop) of `layout` (a checked range).
GatherPlan plan_range(const StoredLayout& layout, std::uint64_t start, std::uint64_t stop, bool out_fortran);

/// Reads `bytes` source bytes at `from` into `out`, or throws.
using Fetch = std::function<void(std::byte* out, std::uint64_t from, std::uint64_t bytes)>;

/// Carries out `plan` into `out`: every read through `fetch`, in plan order.
void run_plan(const GatherPlan& plan, std::byte* out, const Fetch& fetch);

/// A Fetch over a source that can only be read forwards, already read up to
/// `position`: the bytes between one copy and the next are read and dropped.
class ForwardFetch {
 public:
  ForwardFetch(Source& source, std::uint64_t position) : source_(source), position_(position) {}
  void operator()(std::byte* out, std::uint64_t from, std::uint64_t bytes);

 private:
  void read(std::byte* out, std::uint64_t bytes);
  Source& source_;
  std::uint64_t position_;
  std::vector<std::byte> scratch_;
};

}  // namespace ndbridge::detail
