#pragma once

// The HDF5 filter ndbridge registers in-process: LZF (32000, h5py's), so
// that files h5py compressed with it read (and can be written) without a
// plugin.
//
// libhdf5 1.10 takes whatever a filter hands back as the chunk: a chunk
// that decompresses short is then copied out past the end of the buffer
// (H5VM_memcpyvv; the h5 fuzz target found it with deflate). Within an
// ExpectChunkBytes scope, the LZF filter refuses a chunk that does not
// decompress to exactly the size its dataset's chunks have; deflate,
// which libhdf5 will not let anyone replace, H5Chunks checks itself.

#include <cstdint>

namespace ndbridge::detail {

/// Registers LZF once per process, unless someone else's is registered.
void register_filters();

/// While alive, chunks ndbridge's LZF filter decompresses on this thread
/// must come out at `bytes` bytes (0: any size). Not nestable.
class ExpectChunkBytes {
 public:
  explicit ExpectChunkBytes(std::uint64_t bytes) noexcept;
  ExpectChunkBytes(const ExpectChunkBytes&) = delete;
  ExpectChunkBytes& operator=(const ExpectChunkBytes&) = delete;
  ~ExpectChunkBytes();
};

/// Whether the LZF filter registered is ndbridge's, which checks sizes.
bool lzf_checks_chunk_size() noexcept;

}  // namespace ndbridge::detail
