#pragma once

// The HDF5 filter ndbridge registers in-process: LZF (32000, h5py's), so
// that files h5py compressed with it read (and can be written) without a
// plugin.
//
// libhdf5 1.10 takes whatever a filter hands back as the chunk: a chunk
// that decompresses short is then copied out past the end of the buffer
// (H5VM_memcpyvv; the h5 fuzz target found it with deflate). Within an
// ExpectChunkBytes scope, the LZF filter refuses a chunk that does not
// decompress to exactly the size its dataset's chunks have, and so do the
// filter plugins ndbridge loads (detail/h5_plugins.hpp); deflate, which
// libhdf5 will not let anyone replace, H5Chunks checks itself.

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ndbridge::detail {

/// h5py's LZF filter.
inline constexpr H5Z_filter_t kLzfFilter = 32000;

/// One filter of a dataset's pipeline.
struct PipelineFilter {
  H5Z_filter_t id;
  std::string name;  ///< as the file names it, whole
};

/// The filter pipeline of dataset creation properties `dcpl`, in order.
/// Throws H5Error naming `what` when it cannot be read.
std::vector<PipelineFilter> filter_pipeline(hid_t dcpl, const std::string& what);

/// Why ndbridge does not read chunks through `pipeline` (empty when it
/// does): libhdf5 1.10 takes any filter's output as the chunk however
/// short, so only pipelines whose one compressor's output ndbridge checks
/// are read (gzip, LZF, plugins it loaded; optionally with shuffle and
/// fletcher32), and only over elements of a fixed stored size
/// (`fixed_size`). `what` names the dataset.
std::string pipeline_refusal(const std::vector<PipelineFilter>& pipeline, bool fixed_size,
                             const std::string& what);

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

/// Whether `size` bytes is what the current ExpectChunkBytes scope expects
/// of a chunk (any size outside one); if not, pushes an HDF5 error naming
/// `filter` for libhdf5 to report.
bool chunk_size_expected(std::size_t size, const char* filter);

/// Whether the LZF filter registered is ndbridge's, which checks sizes.
bool lzf_checks_chunk_size() noexcept;

}  // namespace ndbridge::detail
