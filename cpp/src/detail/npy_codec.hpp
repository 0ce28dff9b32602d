#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "detail/source.hpp"
#include "ndbridge/array.hpp"
#include "ndbridge/npy.hpp"

namespace ndbridge::detail {

/// Reads the .npy prefix and dictionary from `src`. `head` receives the bytes
/// read so far, which for a small file already include the data. With
/// `exact`, nothing past the header is read, so a stream is left where the
/// data starts. Reads are in increasing, contiguous order.
NpyHeader read_header(Source& src, std::vector<std::byte>& head, bool exact);

/// Checks, when the size is knowable, that every data byte is there.
void check_complete(Source& src, const NpyHeader& h);

/// Reads the whole array into a new buffer, continuing where read_header
/// stopped: reads are in increasing, contiguous order, so a Source that can
/// only go forwards (an inflating one) works.
Array read_all(Source& src, const NpyHeader& h, const std::vector<std::byte>& head);

/// Reads rows [start, stop) along the first axis, touching only their bytes.
Array read_rows(Source& src, const NpyHeader& h, const std::vector<std::byte>& head,
                std::uint64_t start, std::uint64_t stop);

/// For a stream that cannot tell its size and might be lying about a huge
/// array: collects what actually arrives in bounded blocks and allocates
/// once it is all there.
Array read_unsized(Source& src, const NpyHeader& h, const std::vector<std::byte>& head);

/// Where the writer puts bytes: called with consecutive pieces of the file.
using Sink = std::function<void(const void*, std::size_t)>;

/// Writes a whole .npy file (make_npy_header, then the elements: contiguous
/// data as it is, strided data gathered into C order in bounded chunks).
void write_npy_to(const ArrayView& array, const Sink& sink);

}  // namespace ndbridge::detail
