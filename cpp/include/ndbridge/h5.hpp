#pragma once

// HDF5 through the HDF5 C API, in the conventions h5py uses. hdf5.h stays
// out of this header: consumers need HDF5 only to link, never to compile.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ndbridge/array.hpp"
#include "ndbridge/config.hpp"
#include "ndbridge/describe.hpp"
#include "ndbridge/dtype.hpp"

namespace ndbridge {

/// A libhdf5 release: 1.10.8 is {1, 10, 8}.
struct H5Version {
  unsigned major;    ///< 1
  unsigned minor;    ///< 10 on Debian 12 and Ubuntu 24.04, 14 on Debian 13, Fedora, conda
  unsigned release;  ///< 8

  /// Whether this release is `major`.`minor`.`release` or later.
  constexpr bool at_least(unsigned major_, unsigned minor_, unsigned release_ = 0) const noexcept {
    if (major != major_) return major > major_;
    if (minor != minor_) return minor > minor_;
    return release >= release_;
  }
};

/// The libhdf5 this copy of ndbridge reads and writes HDF5 with: the release
/// it was built against, which is the one it runs with (libhdf5 stops a
/// program built against another release). What libhdf5 can open depends
/// on it: files written in HDF5 2.0's format need 2.0, and 1.10 cannot
/// decode h5py's bool and complex types from libver "v112" on.
inline constexpr H5Version kHdf5Version{NDBRIDGE_HDF5_VERSION_MAJOR, NDBRIDGE_HDF5_VERSION_MINOR,
                                        NDBRIDGE_HDF5_VERSION_RELEASE};

/// Whether the libhdf5 this process runs was built thread-safe
/// (H5is_library_threadsafe(): Debian's, conda's and h5py's are). When it
/// was not, ndbridge does not refuse it: every call ndbridge makes into
/// libhdf5 then takes one process-wide lock, so H5File and H5Writer stay
/// safe from any number of threads, but their HDF5 work runs one thread at
/// a time (decoding included). Other code in the process that calls such a
/// libhdf5 from other threads at the same time is not covered by that lock.
bool hdf5_threadsafe() noexcept;

/// Adds `folder` at the end of the folders libhdf5 looks for filter plugins
/// in (after HDF5_PLUGIN_PATH's, or its default /usr/local/hdf5/lib/plugin),
/// once per folder: e.g. the plugins folder of the Python package
/// hdf5plugin, which ndbridge.cpp adds by itself. ndbridge loads a filter's
/// plugin from there the first time a dataset needs it, and checks what it
/// decompresses to (exactly the chunk's size) before libhdf5 uses it.
/// Throws H5Error if libhdf5 refuses the folder.
void h5_append_plugin_path(const std::filesystem::path& folder);

/// One mapping of a virtual dataset (HDF5's VDS): describe()'s type, under
/// the name H5File::list() has always given it.
using H5VirtualSource = VirtualSourceDescription;

/// One group or dataset in an HDF5 file, as H5File::list() reports it.
struct H5Object {
  /// What the object is: a group, a dataset, a named (committed) datatype,
  /// or anything else HDF5 can link to.
  enum class Kind { Group, Dataset, NamedType, Other };

  std::string path;        ///< absolute, e.g. "/images"
  Kind kind = Kind::Other;  ///< group, dataset, ...
  /// Datasets: the element type, or nothing when ndbridge cannot read it.
  std::optional<DType> dtype;
  /// Datasets: whether read() can read it here (variable-length strings
  /// have no fixed dtype until read, yet are readable; a filter whose
  /// plugin is missing makes a dataset unreadable).
  bool readable = false;
  /// Datasets that are not readable: why, as read() would say it.
  std::string unreadable_reason;
  /// Datasets: HDF5's own description of the type ("16-bit little-endian
  /// integer", "h5py bool enum", "variable-length UTF-8 string", ...).
  std::string type;
  /// Datasets: current dimensions; empty for scalars.
  Shape shape;
  /// Datasets: true for HDF5's null dataspace (h5py.Empty), which holds no
  /// elements at all; read() returns a zero-length 1-d array for it.
  bool null_dataspace = false;
  /// Datasets: "contiguous", "compact", "chunked" or "virtual".
  std::string layout;
  /// Datasets with chunked layout: the chunk dimensions.
  std::optional<Shape> chunks;
  /// Datasets: the filter pipeline in order ("shuffle", "gzip", "lzf",
  /// "filter 32001 (blosc)"...).
  std::vector<std::string> filters;
  /// Virtual datasets: every source mapping, in the order HDF5 stores them.
  std::vector<H5VirtualSource> virtual_sources;
  /// Datasets of a fixed-size dtype, other than virtual ones: the bytes the
  /// data takes in the file after filters (0 until written), as h5ls -v
  /// reports it.
  std::optional<std::uint64_t> stored_bytes;
  /// Names of the attributes attached to this object, in the order h5py
  /// lists them: creation order where the object tracks it, else by name.
  std::vector<std::string> attributes;
  /// The attributes H5File::attributes() leaves out, as (name, why): types
  /// ndbridge does not read (compounds, variable-length sequences such as
  /// netCDF's DIMENSION_LIST, region references...).
  std::vector<std::pair<std::string, std::string>> unreadable_attributes;
  /// Set when libhdf5 cannot open the object (a format version newer than
  /// it reads, a damaged object header): its reason. Only `path` and `kind`
  /// are known then; the rest of the listing is unaffected.
  std::string error;
};

/// What reading a dataset gives, known without reading it.
struct H5ReadInfo {
  /// The element type read() returns; nothing when ndbridge cannot read the
  /// type, or when its size is known only once read (variable-length strings).
  std::optional<DType> dtype;
  /// The shape read() returns: empty for a scalar, {0} for a null dataspace.
  Shape shape;
};

/// An HDF5 file opened read-only. Reading dispatches on the HDF5 type class
/// and gives the same elements h5py gives: every integer and float in either
/// byte order, float16, h5py's bool enum as bool, h5py's {r, i} compound as
/// complex, fixed-length strings as bytes ("|S<n>") and variable-length
/// strings as text ("<U<n>", n the longest string). LZF (filter 32000) is
/// built in. Datasets stay open (with HDF5's chunk cache) for the life of
/// the object, so repeated row reads are cheap; uncompressed contiguous
/// datasets are read with one pread() straight from the file. Virtual
/// datasets (VDS, e.g. the master file of a sharded pack) read through their
/// source files, found relative to this file's folder whatever the working
/// directory; before a virtual dataset's first read every source file is
/// checked, so that a missing shard is a FileError naming it rather than
/// HDF5's silent fill value.
///
/// Thread safety: every const member may be called from several threads at
/// once on one H5File (moving, assigning and destroying it may not). With a
/// thread-safe libhdf5 (hdf5_threadsafe()) the reads run in parallel:
/// libhdf5 serialises its own calls behind one lock, so chunks compressed
/// with gzip or lzf are fetched raw under it and decoded outside it, and
/// uncompressed contiguous rows are read without HDF5 at all. With one that
/// is not, ndbridge serialises its HDF5 calls itself (see hdf5_threadsafe()).
/// A fork() in the process waits for the HDF5 calls under way to finish, so
/// a child process (a DataLoader worker) can go on using files it inherited.
class H5File {
 public:
  /// Opens `path` read-only. Throws FormatError if it is not an HDF5 file,
  /// FileError if it cannot be opened, H5Error for other HDF5 failures.
  static H5File open(const std::filesystem::path& path);

  /// Takes over the open file; the moved-from object can only be destroyed.
  H5File(H5File&&) noexcept;
  /// Closes this file and takes over the other's.
  H5File& operator=(H5File&&) noexcept;
  H5File(const H5File&) = delete;
  H5File& operator=(const H5File&) = delete;
  /// Closes the file and every dataset kept open.
  ~H5File();

  /// Every group and dataset, depth first, the root group first; within a
  /// group in creation order where the group tracks it (as h5py lists it:
  /// netCDF-4 files, h5py's track_order=True), else in name order.
  std::vector<H5Object> list() const;
  /// Whether `object` ("/labels", "group/data"; "/" is the root) names a
  /// group, dataset or named type that can be opened: false for a missing
  /// name, a path through a dataset and a dangling soft or external link.
  /// Throws H5Error only when libhdf5 fails to look the name up.
  bool contains(const std::string& object) const;
  /// What list() says about one object. Throws NotFoundError if absent.
  H5Object info(const std::string& object) const;
  /// Reads a whole dataset. Throws NotFoundError, UnsupportedError (a type
  /// ndbridge does not handle), H5Error (e.g. a corrupt chunk).
  Array read(const std::string& dataset) const;
  /// Reads rows [start, stop) along the first axis.
  Array read_rows(const std::string& dataset, std::uint64_t start, std::uint64_t stop) const;
  /// Reads the rows at `indices` along the first axis, in that order, as
  /// numpy's fancy indexing picks them (any order, repeats allowed, negative
  /// from the end). Each chunk the rows lie in is read and decoded once per
  /// call. Throws UsageError for a scalar or an index outside the first
  /// axis; otherwise as read().
  Array read_rows(const std::string& dataset, RowIndices indices) const;
  /// The element type and shape read() would give, without reading. Throws
  /// as read() does for a missing or unopenable dataset.
  H5ReadInfo read_info(const std::string& dataset) const;
  /// Reads rows [start, stop) into `buffer`, in C order and in the dtype
  /// read_info() gives, without allocating: for callers that own their
  /// memory (a batch buffer reused for every batch, a numpy array). `size`
  /// must be exactly the bytes those rows take. Throws UsageError when it is
  /// not, or when the dataset has no fixed-size dtype (variable-length
  /// strings: use read_rows()); otherwise as read_rows().
  void read_rows_into(const std::string& dataset, std::uint64_t start, std::uint64_t stop,
                      void* buffer, std::uint64_t size) const;
  /// The rows at `indices` into `buffer`, as read_rows_into() above puts
  /// a range there: C order, the dtype of read_info(), `size` exactly the
  /// bytes they take.
  void read_rows_into(const std::string& dataset, RowIndices indices, void* buffer, std::uint64_t size) const;
  /// Rows [start, stop) into `buffer` as elements of dtype `as`, which must
  /// be the dataset's element type up to byte order (UsageError naming both
  /// otherwise, before anything is read): the elements arrive in `as`'s byte
  /// order whatever the file's, so a big-endian dataset read as native
  /// floats gives the right floats. `size` is in bytes, as above.
  void read_rows_into(const std::string& dataset, std::uint64_t start, std::uint64_t stop, void* buffer,
                      std::uint64_t size, const DType& as) const;
  /// The rows at `indices` into `buffer` as elements of dtype `as`; see above.
  void read_rows_into(const std::string& dataset, RowIndices indices, void* buffer, std::uint64_t size,
                      const DType& as) const;
  /// Typed read of rows [start, stop): `buffer` holds T, the dataset must
  /// hold T's type (`DType::of<T>()`) in either byte order, and T arrives in
  /// native byte order. `size` is the buffer's size in bytes, as for every
  /// read_rows_into (for a std::vector<T> v: v.size() * sizeof(T)). A `void*`,
  /// `char*` or `std::byte*` buffer takes the untyped overload instead.
  template <class T, class = std::enable_if_t<is_element_type_v<T>>>
  void read_rows_into(const std::string& dataset, std::uint64_t start, std::uint64_t stop, T* buffer,
                      std::uint64_t size) const {
    read_rows_into(dataset, start, stop, static_cast<void*>(buffer), size, DType::of<T>());
  }
  /// Typed read of the rows at `indices`; see above.
  template <class T, class = std::enable_if_t<is_element_type_v<T>>>
  void read_rows_into(const std::string& dataset, RowIndices indices, T* buffer, std::uint64_t size) const {
    read_rows_into(dataset, indices, static_cast<void*>(buffer), size, DType::of<T>());
  }
  /// The attributes of a group or dataset, in the order list() gives
  /// their names; scalars are 0-d. Object references read as the path of
  /// the object they refer to ("" for a null reference), as h5py's
  /// f[ref].name. An attribute of a type ndbridge does not read is left out
  /// (list() and info() name it, with the reason) and does not stop the
  /// others; a null attribute (h5py.Empty) is a zero-length 1-d array of its
  /// type. Throws NotFoundError, H5Error for a damaged attribute.
  std::vector<std::pair<std::string, Array>> attributes(const std::string& object) const;

  /// The path the file was opened with.
  const std::filesystem::path& path() const noexcept;

 private:
  struct State;
  explicit H5File(std::unique_ptr<State> state) noexcept;
  std::unique_ptr<State> state_;
};

/// A dataset's compression filter, as h5py names them.
enum class H5Compression {
  None,  ///< no compression filter
  Gzip,  ///< deflate (filter 1), at H5DatasetOptions::gzip_level
  Lzf,   ///< h5py's LZF (filter 32000), built into ndbridge
};

/// The compression h5py's `compression=` name stands for: "" or "none",
/// "gzip", "lzf". Throws UsageError naming the text for anything else.
H5Compression h5_compression(const std::string& name);
/// h5py's name for `compression`: "none", "gzip" or "lzf".
const char* h5_compression_name(H5Compression compression) noexcept;

/// The type of H5DatasetOptions::compression: holds an H5Compression and
/// converts to and from it. Its deprecated constructors take h5py's names
/// ("", "gzip", "lzf"); an unknown name makes H5Writer::write() throw
/// UsageError.
class H5CompressionOption {
 public:
  /// `compression` itself (default: none).
  H5CompressionOption(H5Compression compression = H5Compression::None) noexcept  // NOLINT: implicit on purpose
      : value_(compression) {}
  /// Deprecated: a name as h5py spells it.
  [[deprecated("use H5Compression::Gzip, H5Compression::Lzf or H5Compression::None")]]
  H5CompressionOption(const char* name);  // NOLINT: implicit on purpose
  /// Deprecated: a name as h5py spells it.
  [[deprecated("use H5Compression::Gzip, H5Compression::Lzf or H5Compression::None")]]
  H5CompressionOption(const std::string& name);  // NOLINT: implicit on purpose

  /// The compression asked for.
  operator H5Compression() const noexcept { return value_; }  // NOLINT: implicit on purpose
  /// A name given through a deprecated overload that is not one of h5py's;
  /// empty otherwise.
  const std::string& unknown_name() const noexcept { return unknown_; }

 private:
  void set(const std::string& name);
  H5Compression value_ = H5Compression::None;
  std::string unknown_;
};

/// How a dataset is stored by H5Writer::write().
struct H5DatasetOptions {
  /// Chunk dimensions; when compression, shuffle or fletcher32 is asked for
  /// without them, about 1 MiB of whole rows.
  std::optional<Shape> chunks;
  /// The compression filter: H5Compression::None, Gzip or Lzf.
  H5CompressionOption compression;
  /// gzip level 0-9.
  int gzip_level = 4;
  /// Byte-shuffle before compressing: often much smaller for numbers.
  bool shuffle = false;
  /// Fletcher-32 checksum of every chunk.
  bool fletcher32 = false;
};

/// What H5Writer does with a file already at its destination.
enum class H5WriteMode {
  Create,     ///< refuse it: FileError (errno EEXIST) naming it, when the
              ///< writer starts and again at commit(); it is left as it is
  Overwrite,  ///< replace it at commit() (as write_npy() does)
  Append,     ///< keep its content and add to it: it is copied whole into the
              ///< new file first (for many datasets, write them all with one
              ///< writer); a missing file is created
};

/// Builds an HDF5 file the way h5py would write it (bool as an enum
/// {FALSE, TRUE}, complex as a compound {r, i}, unicode as variable-length
/// UTF-8 strings), in the oldest file format that holds the data and never
/// a newer one than libhdf5 1.8's (h5py's libver "earliest"): a format every
/// libhdf5 from 1.8 on reads (the tests read it with 1.10 and 1.14, and with
/// h5py). Appending keeps the objects already in the file as they are.
///
/// Thread safety: one H5Writer belongs to one thread at a time (its calls
/// change the file); different writers may run in different threads at once. The file is written under a
/// temporary name and appears under its own only at commit().
class H5Writer {
 public:
  /// Starts a new file for `destination`, written under a temporary name
  /// beside it; `mode` says what happens to a file already there (the
  /// original stays as it is until commit()). Throws FileError (EEXIST) for
  /// H5WriteMode::Create and an existing file, FormatError for
  /// H5WriteMode::Append and an existing file that is not HDF5.
  explicit H5Writer(const std::filesystem::path& destination, H5WriteMode mode = H5WriteMode::Overwrite);
  /// Deprecated: `append` true is H5WriteMode::Append, false Overwrite.
  [[deprecated("use H5Writer(path, H5WriteMode::Append) or H5WriteMode::Overwrite")]]
  H5Writer(const std::filesystem::path& destination, bool append);
  H5Writer(const H5Writer&) = delete;
  H5Writer& operator=(const H5Writer&) = delete;
  /// Without commit(), discards everything written.
  ~H5Writer();

  /// Creates dataset `name` (intermediate groups too) holding `data`.
  /// Throws UsageError if the name is already taken.
  void write(const std::string& name, const ArrayView& data, const H5DatasetOptions& options = {});
  /// Attaches a numeric, bool, bytes or unicode attribute (any shape; 0-d
  /// for a scalar) to the group or dataset `object` ("/" for the root).
  void set_attribute(const std::string& object, const std::string& name, const ArrayView& value);
  /// Attaches a text attribute, stored as h5py stores str.
  void set_attribute(const std::string& object, const std::string& name, const std::string& text);
  /// Closes the file, flushes it to disk and renames it into place.
  void commit();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ndbridge
