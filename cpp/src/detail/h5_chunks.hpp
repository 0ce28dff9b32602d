#pragma once

// Reading a chunked dataset without trusting its chunk records, and with
// the work done outside libhdf5's lock wherever it can be.
//
// libhdf5 1.10 believes each chunk's record (stored size, filter mask): a
// chunk of a filtered dataset whose record says its filters were skipped,
// stored with fewer bytes than the chunk holds, is copied out past the end
// of HDF5's own buffer (H5VM_memcpyvv), a record
// claiming 4 GiB is allocated as such, and one read over millions of chunks
// keeps a record per chunk until memory runs out. Fuzzing found all three
// (docs/robustness.md). So every chunk a read touches is looked up first
// (its stored size, and for a filtered dataset its filter mask, which only
// reading it raw gives in 1.10) and checked against the layout and the
// file's size, once per chunk, and reads go to HDF5 in slabs of a bounded
// number of chunks.
//
// libhdf5 serialises every call behind one global lock, filters included.
// Chunks compressed with gzip or lzf (with or without shuffle) are
// therefore read raw (H5Dread_chunk, under the lock) and decoded here,
// outside it, into buffers of the calling thread: reads from several
// threads inflate in parallel. Each chunk a read needs is read and decoded
// once per call.

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "ndbridge/array.hpp"

namespace ndbridge::detail {

class File;

class H5Chunks {
 public:
  /// `count` rows of the dataset from `row` on, read into the output's rows
  /// from `to` on (every other axis whole).
  struct Run {
    std::uint64_t row;
    std::uint64_t to;
    std::uint64_t count;
  };

  /// A guard for `dataset`, chunked with creation properties `dcpl` and
  /// extent `shape` (not scalar, not null), stored in `file`. `what` names
  /// the dataset in errors.
  H5Chunks(hid_t dataset, hid_t dcpl, hid_t file_type, const Shape& shape, const File& file,
           std::string what);

  /// Reads `runs` into `buffer`, which holds `out_rows` rows (every other
  /// axis as the dataset's), as `mem_type`, after checking every chunk they
  /// lie in. Runs are in increasing order of `row` and of `to` and do not
  /// overlap. Throws FormatError naming the first damaged chunk, and
  /// UnsupportedError for a pipeline whose output size cannot be checked.
  void read(hid_t mem_type, const std::vector<Run>& runs, std::uint64_t out_rows, void* buffer) const;

 private:
  struct Slab {
    std::vector<hsize_t> offset;  // in the file's dataspace
    std::vector<hsize_t> count;
  };
  // One chunk as stored and decoded, owned by the read that needs it.
  struct ChunkBuffers {
    std::vector<char> raw;      // as stored
    unsigned mask = 0;          // its filter mask
    std::vector<char> decoded;  // its elements
  };

  // The slabs covering rows [start, start + rows), each spanning at most
  // kMaxChunksPerRead chunks.
  std::vector<Slab> slabs(std::uint64_t start, std::uint64_t rows) const;
  // The chunks `slab` lies in: [lo, hi) along each axis, in chunk indices.
  void chunks_of(const Slab& slab, std::vector<hsize_t>& lo, std::vector<hsize_t>& hi) const;
  // Adds (or with `first`, sets) [from, from + count) in the file to the
  // selections, and its place in memory, where file row `row` is output row
  // `to`.
  void select(hid_t file_space, hid_t mem_space, const std::vector<hsize_t>& from,
              const std::vector<hsize_t>& count, std::uint64_t row, std::uint64_t to, bool first) const;
  // Checks every chunk of `slab` not checked before.
  void check(const Slab& slab, ChunkBuffers& buffers) const;
  // Checks one chunk's record; false when the chunk was never written. For
  // a filtered dataset leaves the chunk as stored, and its mask, in
  // `buffers`.
  bool check_chunk(const std::vector<hsize_t>& origin, ChunkBuffers& buffers) const;
  // The row-major index of the chunk at chunk coordinates `at`; its first
  // element's coordinates into `origin`.
  std::uint64_t locate(const std::vector<hsize_t>& at, std::vector<hsize_t>& origin) const;
  // Whether the chunk at row-major `index` was checked; marks it.
  bool checked(std::uint64_t index) const;
  void mark_checked(std::uint64_t index) const;
  // The reads that go through H5Dread, in unions of at most
  // kMaxChunksPerRead chunks.
  void read_through_hdf5(hid_t mem_type, const std::vector<Run>& runs, std::uint64_t out_rows,
                         void* buffer) const;
  // The reads of chunks the reader decodes itself.
  void read_decoded(hid_t mem_type, const std::vector<Run>& runs, std::uint64_t out_rows,
                    void* buffer) const;
  // Undoes the filters of the chunk in `buffers` (chunk_bytes_ result).
  void decode(const std::vector<hsize_t>& origin, ChunkBuffers& buffers) const;
  // Inflates the zlib stream [data, data + size) into `out`, sized to what
  // it should hold; the size it inflates to, out.size() + 1 for longer, -1
  // for a stream that does not end.
  static std::int64_t inflate_into(const char* data, std::size_t size, std::vector<char>& out);
  // Copies rows [row, row + count) of the decoded chunk at `origin` (every
  // other axis of the chunk) to the output, where `row` goes to row `to`.
  void copy_out(const std::vector<hsize_t>& origin, const std::vector<char>& decoded, std::uint64_t row,
                std::uint64_t count, std::uint64_t to, std::byte* buffer) const;
  // What check_chunk says of a chunk without a record: false (it reads as
  // the fill value), unless the index is complete.
  bool never_written(const std::vector<hsize_t>& origin) const;
  // Whether the chunk at `origin` has a record (with an address) at all.
  bool stored(const std::vector<hsize_t>& origin) const;
  // Checks the chunk index as a whole, once: no more records than the
  // extent has chunks, and each record's coordinates a multiple of the
  // chunk shape inside the extent. libhdf5 1.10 rounds a coordinate down
  // and looks chunks up by it, so a damaged one reads the chunk it names
  // as never written (the fill value) or another chunk's data.
  void check_index() const;
  // One record's coordinates, for check_index.
  void check_record(const hsize_t* offset) const;

  hid_t dataset_;
  const File& file_;
  std::string what_;
  std::vector<hsize_t> dims_;
  std::vector<hsize_t> chunk_;
  std::vector<hsize_t> grid_;  // chunks along each axis
  std::uint64_t chunk_bytes_ = 0;  // one chunk unfiltered, as the file stores its elements
  std::vector<H5Z_filter_t> filters_;  // the pipeline, in order
  int resizer_ = -1;  // where gzip or lzf is in it; -1: neither
  std::uint64_t checksums_before_ = 0;  // fletcher32 filters before that one
  std::string unsupported_;  // why reads are refused; empty: they are not
  mutable std::mutex mutex_;  // guards checked_
  mutable std::vector<bool> checked_;  // by chunk index, row-major; empty: grid too big to keep
  bool decodes_ = false;  // whether reads go through read_decoded
  mutable std::once_flag index_checked_;
  mutable bool complete_ = false;  // every chunk has a record: none may be missing
  std::size_t element_size_ = 0;  // bytes per element in the file
};

}  // namespace ndbridge::detail
