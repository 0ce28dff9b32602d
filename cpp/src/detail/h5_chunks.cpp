#include "detail/h5_chunks.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <sstream>

#include <zlib.h>

#include "detail/file.hpp"
#include "detail/h5_call.hpp"
#include "detail/h5_filters.hpp"
#include "detail/lzf.hpp"
#include "detail/h5_types.hpp"
#include "ndbridge/error.hpp"

namespace ndbridge::detail {

namespace {

// HDF5 1.10 keeps a record (with two dataspaces) per chunk of one H5Dread
// call: a few kilobytes each, so a slab of this many stays near 10 MB.
constexpr std::uint64_t kMaxChunksPerRead = 4096;

// Chunk grids up to this many chunks remember which chunks were checked
// (one bit each); larger ones are checked on every read that touches them.
constexpr std::uint64_t kMaxRemembered = std::uint64_t{1} << 24;

#if !H5_VERSION_GE(1, 14, 0)
// Chunk indexes up to this many records are walked whole on libhdf5 1.10,
// one H5Dget_chunk_info call (itself a walk) per record.
constexpr hsize_t kMaxRecordsWalked = 256;
#endif

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) {
    return std::numeric_limits<std::uint64_t>::max();
  }
  return a * b;
}

std::string coordinates(const std::vector<hsize_t>& origin) {
  std::ostringstream out;
  out << '(';
  for (std::size_t k = 0; k < origin.size(); ++k) out << (k ? ", " : "") << origin[k];
  out << (origin.size() == 1 ? ",)" : ")");
  return out.str();
}

// Steps `at` to the next index of the box [lo, hi), the last axis fastest;
// false after the last one.
bool advance(std::vector<hsize_t>& at, const std::vector<hsize_t>& lo, const std::vector<hsize_t>& hi) {
  for (std::size_t k = at.size(); k-- > 0;) {
    if (++at[k] < hi[k]) return true;
    at[k] = lo[k];
  }
  return false;
}

// What a chunk that inflated to `size` bytes (see inflate_into) instead of
// `expected` did, for the error.
std::string inflated_wrongly(std::int64_t size, std::uint64_t expected) {
  const bool longer = size > static_cast<std::int64_t>(expected);
  return " inflates to " + (longer ? "more than " + std::to_string(expected) : std::to_string(size)) +
         " bytes, but its elements take " + std::to_string(expected) + " (damaged chunk)";
}

}  // namespace

H5Chunks::H5Chunks(hid_t dataset, hid_t dcpl, hid_t file_type, const Shape& shape, const File& file,
                   std::string what)
    : dataset_(dataset), file_(file), what_(std::move(what)), dims_(shape.begin(), shape.end()) {
  chunk_.resize(dims_.size());
  if (H5Pget_chunk(dcpl, static_cast<int>(chunk_.size()), chunk_.data()) != static_cast<int>(dims_.size())) {
    throw FormatError(what_ + ": its chunk shape does not match its dataspace (damaged layout)");
  }
  chunk_bytes_ = h5_stored_element_size(dataset, file_type, what_);
  std::uint64_t total = 1;
  for (std::size_t k = 0; k < dims_.size(); ++k) {
    if (chunk_[k] == 0) throw FormatError(what_ + ": a chunk dimension is 0 (damaged layout)");
    grid_.push_back(dims_[k] / chunk_[k] + (dims_[k] % chunk_[k] != 0));
    chunk_bytes_ = saturating_mul(chunk_bytes_, chunk_[k]);
    total = saturating_mul(total, grid_.back());
  }
  if (chunk_bytes_ > std::numeric_limits<std::uint32_t>::max()) {
    // HDF5 refuses to create chunks of 4 GiB or more.
    throw FormatError(what_ + ": its chunks would hold " + std::to_string(chunk_bytes_) +
                      " bytes, more than HDF5 allows (damaged layout)");
  }
  // Which pipelines are read is pipeline_refusal's to say; refused when a
  // read is asked for, so that the dataset still lists.
  const std::vector<PipelineFilter> pipeline = filter_pipeline(dcpl, what_);
  unsupported_ = pipeline_refusal(pipeline, chunk_bytes_ != 0, what_);
  for (const PipelineFilter& f : pipeline) {
    if (f.id == H5Z_FILTER_FLETCHER32 && resizer_ < 0) ++checksums_before_;
    if (f.id != H5Z_FILTER_SHUFFLE && f.id != H5Z_FILTER_FLETCHER32 && resizer_ < 0) {
      resizer_ = static_cast<int>(filters_.size());
    }
    filters_.push_back(f.id);
  }
  if (total <= kMaxRemembered) checked_.assign(static_cast<std::size_t>(total), false);
  // gzip or lzf, with or without shuffle, over fixed-size elements (read
  // as they are stored): the reader decodes such chunks itself, outside
  // libhdf5's lock, into a buffer of exactly the chunk's size (rather than
  // count what they inflate to and then have libhdf5 inflate them again).
  decodes_ = unsupported_.empty() && resizer_ >= 0 && chunk_bytes_ != 0 &&
             !check_tri(H5Tis_variable_str(file_type), what_ + ": cannot read the type") &&
             std::all_of(filters_.begin(), filters_.end(), [](H5Z_filter_t id) {
               return id == H5Z_FILTER_DEFLATE || id == kLzfFilter || id == H5Z_FILTER_SHUFFLE;
             });
  element_size_ = H5Tget_size(file_type);
}

void H5Chunks::read(hid_t mem_type, const std::vector<Run>& runs, std::uint64_t out_rows, void* buffer) const {
  if (!unsupported_.empty()) throw UnsupportedError(unsupported_);
  std::call_once(index_checked_, [this] { check_index(); });
  for (std::size_t k = 1; k < dims_.size(); ++k) {
    if (dims_[k] == 0) return;
  }
  if (out_rows == 0) return;
  if (decodes_) {
    read_decoded(mem_type, runs, out_rows, buffer);
  } else {
    read_through_hdf5(mem_type, runs, out_rows, buffer);
  }
}

void H5Chunks::read_through_hdf5(hid_t mem_type, const std::vector<Run>& runs, std::uint64_t out_rows,
                                 void* buffer) const {
  std::vector<hsize_t> counts(dims_.begin(), dims_.end());
  counts[0] = out_rows;
  const Handle mem_space = own(H5Screate_simple(static_cast<int>(counts.size()), counts.data(), nullptr),
                               what_ + ": cannot describe memory");
  const Handle file_space = own(H5Dget_space(dataset_), what_ + ": cannot read the dataspace");
  ChunkBuffers buffers;
  // What the compressor must give back: the chunk, with the checksums
  // added before it (check_chunk saw they were not skipped).
  const std::uint64_t expected = resizer_ < 0 ? 0 : chunk_bytes_ + 4 * checksums_before_;
  std::uint64_t selected = 0;  // chunks in the union selected so far
  const auto flush = [&] {
    if (selected == 0) return;
    const ExpectChunkBytes expect(expected);
    ndbridge::detail::check(H5Dread(dataset_, mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, buffer),
                            what_ + ": cannot read");
    selected = 0;
  };
  // The runs' slabs, as few H5Dread calls as the bound allows: a union of
  // boxes whose rows keep their order in memory maps element for element.
  std::vector<hsize_t> lo, hi;
  for (const Run& run : runs) {
    if (run.count == 0) continue;
    for (const Slab& slab : slabs(run.row, run.count)) {
      chunks_of(slab, lo, hi);
      std::uint64_t chunks = 1;
      for (std::size_t k = 0; k < lo.size(); ++k) chunks *= hi[k] - lo[k];
      if (selected + chunks > kMaxChunksPerRead) flush();
      check(slab, buffers);
      select(file_space.get(), mem_space.get(), slab.offset, slab.count, run.row, run.to, selected == 0);
      selected += chunks;
    }
  }
  flush();
}

void H5Chunks::check_record(const hsize_t* offset) const {
  for (std::size_t k = 0; k < dims_.size(); ++k) {
    if (offset[k] % chunk_[k] != 0 || offset[k] >= dims_[k]) {
      const std::vector<hsize_t> at(offset, offset + dims_.size());
      throw FormatError(what_ + ": a chunk record has the coordinates " + coordinates(at) +
                        ", which are not those of a chunk (multiples of " + coordinates(chunk_) +
                        " inside " + coordinates(dims_) + "; damaged chunk index)");
    }
  }
}

void H5Chunks::check_index() const {
  hsize_t records = 0;
  const Handle space = own(H5Dget_space(dataset_), what_ + ": cannot read the dataspace");
  if (H5Dget_num_chunks(dataset_, space.get(), &records) < 0) throw_h5(what_ + ": cannot count its chunks");
  std::uint64_t total = 1;
  for (const hsize_t n : grid_) total = saturating_mul(total, n);
  if (records > total) {
    throw FormatError(what_ + " has " + std::to_string(records) + " chunk records, but its extent holds " +
                      std::to_string(total) + " chunks (damaged chunk index)");
  }
  complete_ = records == total;
#if H5_VERSION_GE(1, 14, 0)
  // One walk over the index.
  struct Walk {
    const H5Chunks* self;
    std::exception_ptr error;
  } walk{this, nullptr};
  const auto visit = [](const hsize_t* offset, unsigned, haddr_t, hsize_t, void* data) -> int {
    auto* w = static_cast<Walk*>(data);
    try {
      w->self->check_record(offset);
      return 0;
    } catch (...) {
      w->error = std::current_exception();
      return -1;
    }
  };
  const herr_t walked = H5Dchunk_iter(dataset_, H5P_DEFAULT, visit, &walk);
  if (walk.error) std::rethrow_exception(walk.error);
  if (walked < 0) throw_h5(what_ + ": cannot walk its chunk index");
#else
  // libhdf5 1.10 walks the index anew for each record asked for: only small
  // indexes are walked whole. (It rounds coordinates down when it reads
  // them, so only those outside the extent show here; a complete index
  // shows the rest as a chunk without a record.)
  if (records <= kMaxRecordsWalked) {
    std::vector<hsize_t> offset(dims_.size());
    for (hsize_t i = 0; i < records; ++i) {
      unsigned mask = 0;
      haddr_t address = 0;
      hsize_t size = 0;
      if (H5Dget_chunk_info(dataset_, space.get(), i, offset.data(), &mask, &address, &size) < 0) {
        throw_h5(what_ + ": cannot read its chunk index");
      }
      check_record(offset.data());
    }
  }
#endif
}

std::vector<H5Chunks::Slab> H5Chunks::slabs(std::uint64_t start, std::uint64_t rows) const {
  const std::size_t rank = dims_.size();
  // The chunks the read touches: [lo, hi) along each axis.
  std::vector<hsize_t> lo(rank, 0), hi(grid_);
  lo[0] = start / chunk_[0];
  hi[0] = (start + rows - 1) / chunk_[0] + 1;
  // Split along the first axis whose later axes hold few enough chunks
  // together; every axis after it is read whole in each slab.
  std::vector<std::uint64_t> inner(rank, 1);  // chunks of one step along axis k
  for (std::size_t k = rank - 1; k > 0; --k) inner[k - 1] = saturating_mul(inner[k], hi[k] - lo[k]);
  std::size_t axis = 0;
  while (inner[axis] > kMaxChunksPerRead) ++axis;
  const std::uint64_t step = std::max<std::uint64_t>(1, kMaxChunksPerRead / inner[axis]);

  std::vector<Slab> out;
  std::vector<hsize_t> at(lo);
  for (;;) {
    Slab slab{std::vector<hsize_t>(rank), std::vector<hsize_t>(rank)};
    for (std::size_t k = 0; k < rank; ++k) {
      // Chunk indices [first, last) of this slab along axis k; a chunk index
      // below grid_[k] times the chunk size stays below the extent.
      const hsize_t first = k <= axis ? at[k] : lo[k];
      const hsize_t last = k < axis ? at[k] + 1 : k == axis ? std::min<hsize_t>(at[k] + step, hi[k]) : hi[k];
      hsize_t from = first * chunk_[k];
      hsize_t to = last == grid_[k] ? dims_[k] : last * chunk_[k];
      if (k == 0) {
        from = std::max<hsize_t>(from, start);
        to = std::min<hsize_t>(to, start + rows);
      }
      slab.offset[k] = from;
      slab.count[k] = to - from;
    }
    out.push_back(std::move(slab));
    // Next position: `step` chunks on along `axis`, carrying into earlier axes.
    std::size_t k = axis;
    at[k] += step;
    while (at[k] >= hi[k]) {
      if (k == 0) return out;
      at[k] = lo[k];
      --k;
      at[k] += 1;
    }
  }
}

void H5Chunks::chunks_of(const Slab& slab, std::vector<hsize_t>& lo, std::vector<hsize_t>& hi) const {
  lo.resize(dims_.size());
  hi.resize(dims_.size());
  for (std::size_t k = 0; k < dims_.size(); ++k) {
    lo[k] = slab.offset[k] / chunk_[k];
    hi[k] = (slab.offset[k] + slab.count[k] - 1) / chunk_[k] + 1;
  }
}

void H5Chunks::select(hid_t file_space, hid_t mem_space, const std::vector<hsize_t>& from,
                      const std::vector<hsize_t>& count, std::uint64_t row, std::uint64_t to, bool first) const {
  std::vector<hsize_t> mem_from = from;
  mem_from[0] = from[0] - row + to;
  const H5S_seloper_t op = first ? H5S_SELECT_SET : H5S_SELECT_OR;
  ndbridge::detail::check(H5Sselect_hyperslab(file_space, op, from.data(), nullptr, count.data(), nullptr),
                          what_ + ": cannot select rows");
  ndbridge::detail::check(H5Sselect_hyperslab(mem_space, op, mem_from.data(), nullptr, count.data(), nullptr),
                          what_ + ": cannot select rows");
}

std::uint64_t H5Chunks::locate(const std::vector<hsize_t>& at, std::vector<hsize_t>& origin) const {
  std::uint64_t index = 0;
  for (std::size_t k = 0; k < dims_.size(); ++k) {
    index = index * grid_[k] + at[k];
    origin[k] = at[k] * chunk_[k];
  }
  return index;
}

bool H5Chunks::checked(std::uint64_t index) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return !checked_.empty() && checked_[static_cast<std::size_t>(index)];
}

void H5Chunks::mark_checked(std::uint64_t index) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (!checked_.empty()) checked_[static_cast<std::size_t>(index)] = true;
}

void H5Chunks::check(const Slab& slab, ChunkBuffers& buffers) const {
  const std::size_t rank = dims_.size();
  std::vector<hsize_t> lo, hi, origin(rank);
  chunks_of(slab, lo, hi);
  std::vector<hsize_t> at = lo;
  for (;;) {
    const std::uint64_t index = locate(at, origin);
    if (!checked(index)) {
      (void)check_chunk(origin, buffers);
      mark_checked(index);
    }
    if (!advance(at, lo, hi)) return;
  }
}

bool H5Chunks::stored(const std::vector<hsize_t>& origin) const {
  // Reading it raw fails only where no chunk was ever written; a record of
  // size 0 reads no bytes.
  std::uint32_t mask = 0;
  char probe[1];
  return H5Dread_chunk(dataset_, H5P_DEFAULT, origin.data(), &mask, probe) >= 0;
}

bool H5Chunks::never_written(const std::vector<hsize_t>& origin) const {
  H5Eclear2(H5E_DEFAULT);
  if (complete_) {
    throw FormatError(what_ + ": the chunk at " + coordinates(origin) +
                      " has no record, though the index has as many records as the dataset has chunks: "
                      "a record's coordinates are wrong (damaged chunk index)");
  }
  return false;
}

bool H5Chunks::check_chunk(const std::vector<hsize_t>& origin, ChunkBuffers& buffers) const {
  const std::string chunk = what_ + ": the chunk at " + coordinates(origin);
  hsize_t size = 0;
  if (H5Dget_chunk_storage_size(dataset_, origin.data(), &size) < 0) {
    // libhdf5 1.10 fails here for a chunk never written (when others were),
    // which reads as the fill value. A record it cannot look up at all fails
    // the read itself the same way, with an error: nothing unsafe gets by.
    return never_written(origin);
  }
  // Unfiltered chunks report the layout's size, whatever their record says
  // (and libhdf5 reads that many bytes), so only a filtered one can say 0.
  if (size == 0 && (filters_.empty() || !stored(origin))) return never_written(origin);
  if (size == 0) throw FormatError(chunk + " is stored in 0 bytes (damaged chunk record)");
  std::uint64_t file_size = file_.size_at_open();
  if (size > file_size) file_size = file_.size();  // grown since?
  if (size > file_size) {
    throw FormatError(chunk + " claims " + std::to_string(size) + " bytes, but the file has " +
                      std::to_string(file_size) + " (damaged chunk record)");
  }
  unsigned mask = 0;
  std::vector<char>& raw = buffers.raw;
  if (!filters_.empty()) {
    // Only the chunk itself says which filters it went through: read it raw.
    // (H5Dget_chunk_info_by_coord would say without reading, but walks every
    // chunk record in 1.10: a whole read of n chunks took time in n squared.)
    raw.resize(static_cast<std::size_t>(size));
    std::uint32_t filter_mask = 0;
    if (H5Dread_chunk(dataset_, H5P_DEFAULT, origin.data(), &filter_mask, raw.data()) < 0) {
      throw_h5(chunk + ": cannot read it");
    }
    mask = filter_mask;
  }
  buffers.mask = mask;
  if (filters_.size() < 32 && (mask >> filters_.size()) != 0) {
    throw FormatError(chunk + " skips filters its pipeline of " + std::to_string(filters_.size()) +
                      " does not have (filter mask " + std::to_string(mask) + "; damaged chunk record)");
  }
  // What the filters it went through can have done to its size: only
  // checksums and shuffling leave it predictable.
  bool resized = false;
  std::uint64_t checksums = 0;
  for (std::size_t k = 0; k < filters_.size(); ++k) {
    if (k < 32 && (mask & (1u << k)) != 0) continue;  // skipped when written
    if (filters_[k] == H5Z_FILTER_FLETCHER32) {
      checksums += 4;
    } else if (filters_[k] != H5Z_FILTER_SHUFFLE) {
      resized = true;
    }
  }
  if (resized) {
    for (int k = 0; k < resizer_; ++k) {
      if (filters_[static_cast<std::size_t>(k)] == H5Z_FILTER_FLETCHER32 && (mask & (1u << k)) != 0) {
        throw FormatError(chunk + " skips a checksum its pipeline puts before compression"
                          " (filter mask " + std::to_string(mask) + "; damaged chunk record)");
      }
    }
    if (filters_[static_cast<std::size_t>(resizer_)] == H5Z_FILTER_DEFLATE && !decodes_) {
      // libhdf5 takes what inflates as the chunk, however short, and its
      // deflate filter cannot be replaced: inflate once here to count. The
      // checksums added after compression come off first.
      std::uint64_t after = 0;
      for (std::size_t k = static_cast<std::size_t>(resizer_) + 1; k < filters_.size(); ++k) {
        if (filters_[k] == H5Z_FILTER_FLETCHER32 && (k >= 32 || (mask & (1u << k)) == 0)) after += 4;
      }
      const std::uint64_t expected = chunk_bytes_ + 4 * checksums_before_;
      buffers.decoded.resize(static_cast<std::size_t>(expected));
      const std::int64_t inflated =
          after > size ? -1 : inflate_into(raw.data(), static_cast<std::size_t>(size - after), buffers.decoded);
      if (inflated >= 0 && static_cast<std::uint64_t>(inflated) != expected) {
        throw FormatError(chunk + inflated_wrongly(inflated, expected));
      }
      // A stream that does not inflate is left to libhdf5, which says so.
    }
  }
  if (!resized && chunk_bytes_ != 0 && size != chunk_bytes_ + checksums) {
    throw FormatError(chunk + " stores " + std::to_string(size) + " bytes, but its elements take " +
                      std::to_string(chunk_bytes_) + (checksums ? " plus a checksum" : "") +
                      " (damaged chunk record)");
  }
  return true;
}

void H5Chunks::read_decoded(hid_t mem_type, const std::vector<Run>& runs, std::uint64_t out_rows,
                            void* buffer) const {
  const std::size_t rank = dims_.size();
  auto* out = static_cast<std::byte*>(buffer);
  ChunkBuffers buffers;
  // Runs cut at chunk-row boundaries: the pieces of one chunk row are
  // consecutive (runs come in row order), and each chunk of that row is
  // read and decoded once for all of them.
  struct Piece {
    std::uint64_t row, to, count;
  };
  std::vector<Piece> pieces;
  for (const Run& run : runs) {
    for (std::uint64_t done = 0; done < run.count;) {
      const std::uint64_t row = run.row + done;
      const std::uint64_t end = std::min<std::uint64_t>(run.row + run.count, (row / chunk_[0] + 1) * chunk_[0]);
      pieces.push_back({row, run.to + done, end - row});
      done += end - row;
    }
  }
  std::vector<hsize_t> lo(rank, 0), hi(grid_), origin(rank);
  Handle file_space, mem_space;  // made only if a chunk was never written
  for (std::size_t first = 0; first < pieces.size();) {
    const std::uint64_t chunk_row = pieces[first].row / chunk_[0];
    std::size_t last = first;
    while (last < pieces.size() && pieces[last].row / chunk_[0] == chunk_row) ++last;
    lo[0] = chunk_row;
    hi[0] = chunk_row + 1;
    std::vector<hsize_t> at = lo;
    for (;;) {
      const std::uint64_t index = locate(at, origin);
      if (check_chunk(origin, buffers)) {
        mark_checked(index);
        decode(origin, buffers);
        for (std::size_t p = first; p < last; ++p) {
          copy_out(origin, buffers.decoded, pieces[p].row, pieces[p].count, pieces[p].to, out);
        }
      } else {
        // Never written: libhdf5 fills in the fill value (and fails, with an
        // error, if the record could not be looked up after all).
        if (file_space.get() < 0) {
          std::vector<hsize_t> counts(dims_.begin(), dims_.end());
          counts[0] = out_rows;
          file_space = own(H5Dget_space(dataset_), what_ + ": cannot read the dataspace");
          mem_space = own(H5Screate_simple(static_cast<int>(rank), counts.data(), nullptr),
                          what_ + ": cannot describe memory");
        }
        std::vector<hsize_t> from(origin), count(rank);
        for (std::size_t k = 1; k < rank; ++k) count[k] = std::min<hsize_t>(origin[k] + chunk_[k], dims_[k]) - origin[k];
        for (std::size_t p = first; p < last; ++p) {
          from[0] = pieces[p].row;
          count[0] = pieces[p].count;
          select(file_space.get(), mem_space.get(), from, count, pieces[p].row, pieces[p].to, p == first);
        }
        ndbridge::detail::check(H5Dread(dataset_, mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, buffer),
                                what_ + ": cannot read");
      }
      if (!advance(at, lo, hi)) break;
    }
    first = last;
  }
}

void H5Chunks::decode(const std::vector<hsize_t>& origin, ChunkBuffers& buffers) const {
  // buffers.raw holds the chunk as stored and buffers.mask its filter mask,
  // both checked by check_chunk; undo the filters it went through, last
  // first.
  const std::string chunk = what_ + ": the chunk at " + coordinates(origin);
  std::vector<char>* in = &buffers.raw;
  std::vector<char>* out = &buffers.decoded;
  for (std::size_t k = filters_.size(); k-- > 0;) {
    if (k < 32 && (buffers.mask & (1u << k)) != 0) continue;
    out->resize(static_cast<std::size_t>(chunk_bytes_));
    if (filters_[k] == H5Z_FILTER_DEFLATE) {
      const std::int64_t size = inflate_into(in->data(), in->size(), *out);
      if (size != static_cast<std::int64_t>(chunk_bytes_)) {
        throw FormatError(chunk + (size < 0 ? std::string(" is not a complete gzip stream (damaged chunk)")
                                            : inflated_wrongly(size, chunk_bytes_)));
      }
    } else if (filters_[k] == kLzfFilter) {
      // lzf_decompress writes nothing past the end of `out`: a stream that
      // needs more room (or is corrupt) gives 0.
      LzfError error = LzfError::None;
      const std::size_t size = lzf_decompress(reinterpret_cast<const std::byte*>(in->data()), in->size(),
                                              reinterpret_cast<std::byte*>(out->data()), out->size(), &error);
      if (size != chunk_bytes_) {
        throw FormatError(chunk + (error == LzfError::OutputTooSmall
                                       ? " decompresses (lzf) to more than " + std::to_string(chunk_bytes_) +
                                             " bytes, but its elements take " + std::to_string(chunk_bytes_) +
                                             " (damaged chunk)"
                                   : size == 0 ? std::string(" is not a valid lzf stream (damaged chunk)")
                                               : " decompresses (lzf) to " + std::to_string(size) +
                                                     " bytes, but its elements take " +
                                                     std::to_string(chunk_bytes_) + " (damaged chunk)"));
      }
    } else {  // shuffle: byte b of every element together, then the odd bytes
      const std::size_t width = element_size_, n = out->size() / width;
      if (in->size() != out->size()) {
        throw FormatError(chunk + " holds " + std::to_string(in->size()) + " bytes before unshuffling, but its elements take " +
                          std::to_string(out->size()) + " (damaged chunk)");
      }
      for (std::size_t b = 0; b < width; ++b) {
        for (std::size_t i = 0; i < n; ++i) (*out)[i * width + b] = (*in)[b * n + i];
      }
      std::copy(in->begin() + static_cast<std::ptrdiff_t>(n * width), in->end(),
                out->begin() + static_cast<std::ptrdiff_t>(n * width));
    }
    std::swap(in, out);
  }
  if (in != &buffers.decoded) buffers.decoded.swap(buffers.raw);  // the result is in raw: move it over
}

std::int64_t H5Chunks::inflate_into(const char* data, std::size_t size, std::vector<char>& out) {
  if (size > std::numeric_limits<uInt>::max() || out.size() >= std::numeric_limits<uInt>::max()) return -1;
  z_stream z{};
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
  z.avail_in = static_cast<uInt>(size);
  if (inflateInit(&z) != Z_OK) return -1;
  // One byte of room beyond the chunk tells a longer stream from an exact one.
  Bytef spare = 0;
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int status = inflate(&z, Z_FINISH);
  if (status == Z_BUF_ERROR && z.avail_out == 0) {
    z.next_out = &spare;
    z.avail_out = 1;
    status = inflate(&z, Z_FINISH);
  }
  const std::int64_t inflated =
      status == Z_STREAM_END || z.total_out > out.size() ? static_cast<std::int64_t>(z.total_out) : -1;
  inflateEnd(&z);
  return inflated;
}

void H5Chunks::copy_out(const std::vector<hsize_t>& origin, const std::vector<char>& decoded, std::uint64_t row,
                        std::uint64_t count, std::uint64_t to, std::byte* buffer) const {
  // Runs contiguous in the chunk and in the output (whose rows are the
  // dataset's, every other axis whole): along the last axis, and on over
  // the axes before it as long as the chunk spans the dataset's whole
  // extent after them. A chunk of whole rows, as packs write images, is
  // then one copy.
  const std::size_t rank = dims_.size();
  std::vector<std::uint64_t> chunk_stride(rank), out_stride(rank);
  std::uint64_t cs = element_size_, os = element_size_;
  for (std::size_t k = rank; k-- > 0;) {
    chunk_stride[k] = cs;
    out_stride[k] = os;
    cs *= chunk_[k];
    os *= dims_[k];
  }
  // The box: rows [row, row + count), every other axis of the chunk within
  // the extent.
  std::vector<hsize_t> from(origin), box(rank);
  from[0] = row;
  box[0] = count;
  for (std::size_t k = 1; k < rank; ++k) box[k] = std::min<hsize_t>(origin[k] + chunk_[k], dims_[k]) - origin[k];
  std::size_t first = rank - 1;  // the run covers axes first..rank-1
  while (first > 0 && box[first] == chunk_[first] && chunk_[first] == dims_[first]) --first;
  std::uint64_t run_elements = 1;
  for (std::size_t k = first; k < rank; ++k) run_elements *= box[k];
  const auto run = static_cast<std::size_t>(run_elements * element_size_);
  // Offsets within the box along the axes before the run (one run each).
  const std::vector<hsize_t> zero(rank, 0);
  std::vector<hsize_t> last = box;
  for (std::size_t k = first; k < rank; ++k) last[k] = 1;
  std::vector<hsize_t> at(rank, 0);
  for (;;) {
    std::uint64_t in = 0, out = 0;
    for (std::size_t k = 0; k < rank; ++k) {
      in += (from[k] + at[k] - origin[k]) * chunk_stride[k];
      out += (k == 0 ? to + at[0] : from[k] + at[k]) * out_stride[k];
    }
    std::memcpy(buffer + out, decoded.data() + in, run);
    if (!advance(at, zero, last)) return;
  }
}

}  // namespace ndbridge::detail
