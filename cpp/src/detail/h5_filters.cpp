// Filter 32000, LZF, as h5py defines it (detail/h5_filters.hpp).
#include "detail/h5_filters.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <string>

#include "detail/h5_call.hpp"
#include "detail/h5_plugins.hpp"
#include "detail/lzf.hpp"

namespace ndbridge::detail {

namespace {

thread_local std::uint64_t expected_bytes = 0;
// False when someone else's LZF filter was registered first.
bool lzf_is_ours = false;

// The cd_values h5py stores: filter revision, liblzf version, chunk bytes.
constexpr unsigned kLzfFilterRevision = 4;
constexpr unsigned kLzfLibraryVersion = 0x0105;
// A chunk that claims to inflate past this many times its declared size is
// corrupt or hostile: stop growing the buffer instead of eating memory.
constexpr std::size_t kMaxGrowth = 16;
// LZF's densest code, a 3-byte back reference, yields 264 bytes: no stream
// inflates to more than 88 times its length.
constexpr std::size_t kLzfMaxRatio = 88;

void push_error(const char* what) {
  H5Epush2(H5E_DEFAULT, __FILE__, "ndbridge_filter", __LINE__, H5E_ERR_CLS, H5E_PLINE,
           H5E_CANTFILTER, "%s", what);
  note_filter_error(what);
}

herr_t lzf_set_local(hid_t dcpl, hid_t type, hid_t) {
  unsigned flags = 0;
  std::size_t count = 8;
  unsigned values[8] = {};
  if (H5Pget_filter_by_id2(dcpl, kLzfFilter, &flags, &count, values, 0, nullptr, nullptr) < 0) {
    return -1;
  }
  hsize_t chunk[H5S_MAX_RANK] = {};
  const int rank = H5Pget_chunk(dcpl, H5S_MAX_RANK, chunk);
  if (rank < 0) return -1;
  std::size_t bytes = H5Tget_size(type);
  for (int k = 0; k < rank; ++k) bytes *= static_cast<std::size_t>(chunk[k]);
  values[0] = kLzfFilterRevision;
  values[1] = kLzfLibraryVersion;
  // The size hint is 32 bits; 0 means "unknown" to the reader.
  values[2] = bytes > 0xffffffffu ? 0u : static_cast<unsigned>(bytes);
  return H5Pmodify_filter(dcpl, kLzfFilter, flags, std::max<std::size_t>(count, 3), values);
}

std::size_t lzf_filter(unsigned flags, std::size_t count, const unsigned values[],
                       std::size_t nbytes, std::size_t* buf_size, void** buf) {
  const auto* in = static_cast<const std::byte*>(*buf);
  if (flags & H5Z_FLAG_REVERSE) {
    const std::size_t most = nbytes * kLzfMaxRatio;
    if (count >= 3 && values[2] > most) {
      // The chunk cannot hold what it declares: refuse before allocating
      // the declared size (up to 4 GiB) for a few bytes of input.
      push_error("lzf: chunk declares more bytes than its compressed data can hold");
      return 0;
    }
    std::size_t hint = count >= 3 && values[2] != 0 ? values[2] : *buf_size;
    if (expected_bytes != 0) hint = static_cast<std::size_t>(expected_bytes);
    std::size_t capacity = std::max<std::size_t>(std::min(hint, most), 1);
    const std::size_t limit = std::max(std::min(std::max(hint, nbytes) * kMaxGrowth, most), capacity);
    while (true) {
      void* out = H5allocate_memory(capacity, false);
      if (out == nullptr) {
        push_error("lzf: out of memory");
        return 0;
      }
      LzfError error = LzfError::None;
      const std::size_t size =
          lzf_decompress(in, nbytes, static_cast<std::byte*>(out), capacity, &error);
      if (size != 0 && count >= 3 && values[2] != 0 && size != values[2]) {
        // Every chunk is stored whole, so a shorter result means a damaged
        // stream; accepting it would hand HDF5 uninitialized bytes.
        H5free_memory(out);
        push_error("lzf: chunk decompresses to fewer bytes than the chunk holds");
        return 0;
      }
      if (size != 0 && !chunk_size_expected(size, "lzf")) {
        H5free_memory(out);
        return 0;
      }
      if (size != 0) {
        H5free_memory(*buf);
        *buf = out;
        *buf_size = capacity;
        return size;
      }
      H5free_memory(out);
      if (error != LzfError::OutputTooSmall || capacity >= limit) {
        push_error(error == LzfError::OutputTooSmall ? "lzf: chunk inflates implausibly far"
                                                     : "lzf: corrupt compressed data");
        return 0;
      }
      capacity = std::min(limit, capacity + std::max(*buf_size, capacity));
    }
  }
  // Compress into one byte less than the input, so success always saves
  // space; when it fails HDF5 stores the chunk as it is (the filter is
  // optional), exactly as h5py does.
  const std::size_t capacity = nbytes > 1 ? nbytes - 1 : nbytes;
  void* out = H5allocate_memory(std::max<std::size_t>(capacity, 1), false);
  if (out == nullptr) return 0;
  const std::size_t size = lzf_compress(in, nbytes, static_cast<std::byte*>(out), capacity);
  if (size == 0) {
    H5free_memory(out);
    return 0;
  }
  H5free_memory(*buf);
  *buf = out;
  *buf_size = capacity;
  return size;
}

void register_once() {
  // Someone else (a plugin, the host program) may have registered LZF
  // already; theirs is the same format, keep it.
  if (check_tri(H5Zfilter_avail(kLzfFilter), "cannot query HDF5 filter 32000")) return;
  static const H5Z_class2_t lzf_class = {
      H5Z_CLASS_T_VERS, kLzfFilter, 1, 1, "lzf", nullptr, lzf_set_local, lzf_filter,
  };
  check(H5Zregister(&lzf_class), "cannot register the LZF filter (32000)");
  lzf_is_ours = true;
}

}  // namespace

std::vector<PipelineFilter> filter_pipeline(hid_t dcpl, const std::string& what) {
  const int count = H5Pget_nfilters(dcpl);
  if (count < 0) throw_h5(what + ": cannot read the filter pipeline");
  std::vector<PipelineFilter> out;
  // A pipeline message stores a name's length in 16 bits: this holds any.
  std::vector<char> name(65537);
  for (int k = 0; k < count; ++k) {
    unsigned flags = 0;
    std::size_t values = 0;
    name[0] = '\0';
    const H5Z_filter_t id = H5Pget_filter2(dcpl, static_cast<unsigned>(k), &flags, &values, nullptr,
                                           name.size(), name.data(), nullptr);
    if (id < 0) throw_h5(what + ": cannot read the filter pipeline");
    out.push_back({id, name.data()});
  }
  return out;
}

std::string pipeline_refusal(const std::vector<PipelineFilter>& pipeline, bool fixed_size,
                             const std::string& what) {
  bool compressed = false;
  for (const PipelineFilter& f : pipeline) {
    if (f.id == H5Z_FILTER_SHUFFLE || f.id == H5Z_FILTER_FLETCHER32) continue;
    const bool checked = f.id == H5Z_FILTER_DEFLATE || (f.id == kLzfFilter && lzf_checks_chunk_size()) ||
                         (f.id != kLzfFilter && plugin_checks_chunk_size(f.id));
    const std::string named = "filter " + std::to_string(f.id) + (f.name.empty() ? "" : " (" + f.name + ")");
    if (!checked && f.id >= 256 && H5Zfilter_avail(f.id) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return what + ": " + missing_filter(f.id, f.name);
    }
    if (!checked || compressed || !fixed_size) {
      return what + ": its filter pipeline has " + named + (compressed ? " after another compressor" : "") +
             (fixed_size ? "" : " over elements of no fixed size") +
             "; ndbridge reads chunks compressed once, with gzip, lzf or a filter plugin, "
             "optionally with shuffle and fletcher32";
    }
    compressed = true;
  }
  return {};
}

bool chunk_size_expected(std::size_t size, const char* filter) {
  const std::uint64_t expected = expected_bytes;
  if (expected == 0 || size == expected) return true;
  const std::string message = std::string(filter) + ": chunk unfilters to " + std::to_string(size) +
                              " bytes, but the dataset's chunks hold " + std::to_string(expected) +
                              " (damaged chunk)";
  push_error(message.c_str());
  return false;
}

ExpectChunkBytes::ExpectChunkBytes(std::uint64_t bytes) noexcept {
  expected_bytes = bytes;
  note_filter_error("");
}

ExpectChunkBytes::~ExpectChunkBytes() { expected_bytes = 0; }

bool lzf_checks_chunk_size() noexcept { return lzf_is_ours; }

void register_filters() {
  static std::once_flag once;
  std::call_once(once, [] {
    const QuietErrors quiet;
    register_once();
  });
}

}  // namespace ndbridge::detail
