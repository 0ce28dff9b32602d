#pragma once

#include <cstddef>

namespace ndbridge::detail {

// LZF is the byte format of Marc Lehmann's liblzf, which h5py's LZF filter
// (HDF5 filter id 32000) stores in each chunk. A stream is a sequence of items,
// each opened by a control byte c:
//   c < 32   a literal run: the next c + 1 bytes are output as they are;
//   c >= 32  a back reference: length field L = c >> 5, and when L == 7 one
//            more byte is added to it; then one byte completes the 13-bit field
//            D = (c & 31) << 8 | byte. The L + 2 bytes starting D + 1 bytes
//            back in the output are copied one at a time, so a reference may
//            overlap what it produces (that is how runs are written).
// The stream carries no length and no checksum: the caller must know the
// decompressed size, or at least a bound on it.

/// Outcome of lzf_decompress when it returns 0.
enum class LzfError {
  None,            ///< success, or an empty input (which decodes to nothing)
  OutputTooSmall,  ///< the stream is valid so far but needs more room (liblzf: E2BIG)
  Corrupt,         ///< the stream is truncated or refers before the output start (EINVAL)
};

/// Compresses in[0, in_size) into out (capacity out_capacity). Returns the
/// compressed size, or 0 if it does not fit (or in_size == 0). Nothing is
/// written at or past out + out_capacity. Uses 16 KiB of stack and, for inputs
/// over 4 KiB, one heap block of up to 256 KiB (going without if none is free).
std::size_t lzf_compress(const std::byte* in, std::size_t in_size, std::byte* out,
                         std::size_t out_capacity) noexcept;

/// Decompresses; returns the decompressed size, or 0 with *error set (when
/// error != nullptr) to OutputTooSmall or Corrupt. A corrupt stream is reported
/// as Corrupt whatever the capacity, so that a caller which retries with a
/// larger buffer on OutputTooSmall always stops. Nothing is written at or past
/// out + out_capacity, whatever the input.
std::size_t lzf_decompress(const std::byte* in, std::size_t in_size, std::byte* out,
                           std::size_t out_capacity, LzfError* error) noexcept;

}  // namespace ndbridge::detail
