#include "ndbridge/npz.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <mutex>
#include <unordered_set>

#include "detail/atomic_output.hpp"
#include "detail/allocate.hpp"
#include "detail/byte_order.hpp"
#include "detail/file.hpp"
#include "detail/mapping.hpp"
#include "detail/npy_codec.hpp"
#include "detail/row_gather.hpp"
#include "detail/text.hpp"
#include "detail/zip.hpp"
#include "detail/zip_member.hpp"
#include "detail/zip_writer.hpp"
#include "ndbridge/error.hpp"

namespace ndbridge {

namespace {

constexpr std::string_view kSuffix = ".npy";
// Deflate cannot do better than 1032:1 (a 258-byte match in two bits); a
// member declaring more than that is lying, whatever the limit.
constexpr std::uint64_t kMaxDeflateRatio = 1032;
// extract() copies in blocks of this size: large enough that the per-call
// costs vanish, small enough not to matter beside any array.
constexpr std::uint64_t kExtractBlock = std::uint64_t{1} << 20;

bool has_npy_suffix(std::string_view name) {
  return name.size() >= kSuffix.size() && name.substr(name.size() - kSuffix.size()) == kSuffix;
}

// numpy.load shows "x.npy" as "x" and any other member under its full name.
std::string key_of(const std::string& member_name) {
  return has_npy_suffix(member_name) ? member_name.substr(0, member_name.size() - kSuffix.size())
                                     : member_name;
}

std::string limit_advice(std::uint64_t limit) {
  return "past the limit of " + std::to_string(limit) +
         " bytes of inflated data; if the archive is trusted, raise the limit "
         "(NpzLimits::max_inflated_bytes in C++, max_bytes= in Python)";
}

}  // namespace

struct NpzReader::Impl {
  detail::File file;
  detail::ZipDirectory directory;
  NpzLimits limits;

  Impl(const std::filesystem::path& path, NpzLimits lim)
      : file(detail::File::open_read(path)),
        directory(detail::read_zip_directory(file)),
        limits(lim) {}

  std::string label(const detail::ZipEntry& e) const {
    return detail::zip_member_label(file.name(), e.name);
  }

  const detail::ZipEntry& find(std::string_view name) const {
    for (const auto& e : directory.entries) {
      if (key_of(e.name) == name) return e;
    }
    std::string known;
    for (const auto& e : directory.entries) {
      if (known.size() > 200) {
        known += ", ...";
        break;
      }
      known += (known.empty() ? "'" : ", '") + detail::printable(key_of(e.name)) + "'";
    }
    throw NotFoundError(file.name() + " has no member named '" + detail::printable(name) + "' (" +
                     (known.empty() ? "the archive is empty" : "it has " + known) + ")");
  }

  bool deflated(const detail::ZipEntry& e) const {
    return e.method == detail::kZipMethodDeflated;
  }

  // An inflating member can only be read forwards; a stored one is read in
  // place, in any order.
  detail::ReadOrder order(const detail::ZipEntry& e) const {
    return deflated(e) ? detail::ReadOrder::Source : detail::ReadOrder::Request;
  }

  // A declared size no deflate stream of the member's length could reach is
  // a lie, reported as such rather than as a limit to raise.
  void check_possible(const detail::ZipEntry& e) const {
    if (deflated(e) && e.uncompressed_size / kMaxDeflateRatio > e.compressed_size + 1) {
      throw FormatError(label(e) + ": declares " + std::to_string(e.uncompressed_size) +
                        " uncompressed bytes, more than " + std::to_string(e.compressed_size) +
                        " bytes of deflate data can hold (lying size)");
    }
  }

  // Checks what can be checked before touching the member's data, and opens
  // it; `data` receives the archive offset of its first byte.
  std::unique_ptr<detail::MemberSource> open(const detail::ZipEntry& e) const {
    std::uint64_t data = 0;
    return open(e, data);
  }
  std::unique_ptr<detail::MemberSource> open(const detail::ZipEntry& e, std::uint64_t& data) const {
    const std::string what = label(e);
    // Not a FormatError: numpy.load accepts such members (it returns their
    // raw bytes), so the archive is well formed; it is content ndbridge
    // does not turn into arrays.
    if (!has_npy_suffix(e.name)) {
      throw UnsupportedError(what + ": not an .npy member (numpy.load would return its raw "
                                    "bytes); ndbridge reads only arrays");
    }
    detail::check_zip_member_supported(e, what);
    check_possible(e);
    data = detail::locate_zip_data(file, e, directory.central_directory_offset, what);
    return detail::open_zip_member(file, e, data, what);
  }

  NpyHeader header(detail::MemberSource& src, std::vector<std::byte>& head, bool exact,
                   const detail::ZipEntry& e) const {
    const NpyHeader h = detail::read_header(src, head, exact);
    // The checked data size plus the header cannot overflow: both are bounded.
    if (h.data_offset + h.data_bytes != e.uncompressed_size) {
      throw FormatError(src.name() + ": the archive declares " +
                        std::to_string(e.uncompressed_size) +
                        " uncompressed bytes, but its .npy header describes " +
                        std::to_string(h.data_offset + h.data_bytes) + " (lying size)");
    }
    return h;
  }

  NpzMember describe(const detail::ZipEntry& e) const {
    const auto src = open(e);
    std::vector<std::byte> head;
    const NpyHeader h = header(*src, head, true, e);
    NpzMember m;
    m.name = key_of(e.name);
    m.dtype = h.dtype;
    m.shape = h.shape;
    m.fortran_order = h.fortran_order;
    m.compressed = deflated(e);
    m.compressed_size = e.compressed_size;
    m.uncompressed_size = e.uncompressed_size;
    return m;
  }

  Array read(const detail::ZipEntry& e) const {
    const auto src = open(e);
    std::vector<std::byte> head;
    const NpyHeader h = header(*src, head, false, e);
    Array array = detail::read_all(*src, h, head);
    src->finish();
    return array;
  }

  // The whole archive mapped, made on first use; null when it cannot be
  // (an address-space limit), and stored members are then read with pread.
  const detail::Mapping* mapping() const { return mapped.get(file).get(); }

  // Gathers what `plan` asks of member `e` (its layout from `h`, data from
  // archive offset `data`, opened as `src`) into `out`.
  void gather(const detail::ZipEntry& e, detail::MemberSource& src, const NpyHeader& h,
              const detail::GatherPlan& plan, std::byte* out) const {
    if (plan.reads.empty()) return;
    if (deflated(e)) {
      const detail::Copy& last = plan.reads.back();
      const std::uint64_t needed = last.from + last.bytes;
      if (needed > limits.max_inflated_bytes) {
        throw FormatError(label(e) + ": the rows asked for need " + std::to_string(needed) +
                          " bytes inflated, " + limit_advice(limits.max_inflated_bytes));
      }
      detail::ForwardFetch forward(src, h.data_offset);
      detail::run_plan(plan, out, std::ref(forward));
      return;
    }
    if (const detail::Mapping* m = mapping()) {
      detail::run_plan(plan, out, [m](std::byte* o, std::uint64_t from, std::uint64_t n) {
        std::memcpy(o, m->data() + from, static_cast<std::size_t>(n));
      });
      return;
    }
    detail::run_plan(plan, out, [&](std::byte* o, std::uint64_t from, std::uint64_t n) {
      if (file.read_at(o, static_cast<std::size_t>(n), from) != n) {
        throw FormatError(label(e) + ": the archive ends inside the member's data (the file "
                                     "shrank while it was read)");
      }
    });
  }

  // A member opened for row reads: its source, header, and where its
  // elements are (member offsets for a deflated one, archive offsets for a
  // stored one, which is read in place).
  struct Rows {
    std::unique_ptr<detail::MemberSource> src;
    NpyHeader header;
    detail::StoredLayout layout;
  };
  Rows open_rows(const detail::ZipEntry& e) const {
    Rows r;
    std::uint64_t data = 0;
    r.src = open(e, data);
    std::vector<std::byte> head;
    r.header = header(*r.src, head, true, e);
    r.layout = {r.header.shape, r.header.dtype.itemsize(), r.header.fortran_order,
                r.header.data_offset + (deflated(e) ? 0 : data)};
    return r;
  }

  // `rows` rows of member `e`, opened as `r`, gathered by `plan` into a
  // new array in the member's memory order.
  Array read_planned(const detail::ZipEntry& e, Rows& r, std::uint64_t rows, const detail::GatherPlan& plan) const {
    const NpyHeader& h = r.header;
    Array out = detail::allocate_for(h.dtype, detail::picked_shape(h.shape, rows), h.fortran_order, label(e));
    if (out.nbytes() != 0) gather(e, *r.src, h, plan, out.mutable_bytes());
    return out;
  }

  detail::LazyMapping mapped;
};

NpzReader::NpzReader(const std::filesystem::path& path, NpzLimits limits)
    : impl_(std::make_unique<Impl>(path, limits)) {}
NpzReader::NpzReader(NpzReader&&) noexcept = default;
NpzReader& NpzReader::operator=(NpzReader&&) noexcept = default;
NpzReader::~NpzReader() = default;

std::vector<std::string> NpzReader::names() const {
  std::vector<std::string> out;
  for (const auto& e : impl_->directory.entries) out.push_back(key_of(e.name));
  return out;
}

bool NpzReader::contains(std::string_view name) const {
  const auto& entries = impl_->directory.entries;
  return std::any_of(entries.begin(), entries.end(),
                     [&](const detail::ZipEntry& e) { return key_of(e.name) == name; });
}

std::vector<NpzMember> NpzReader::members() const {
  std::vector<NpzMember> out;
  for (const auto& e : impl_->directory.entries) out.push_back(impl_->describe(e));
  return out;
}

NpzMember NpzReader::member(std::string_view name) const {
  return impl_->describe(impl_->find(name));
}

Array NpzReader::read(std::string_view name) const {
  const detail::ZipEntry& e = impl_->find(name);
  const std::uint64_t limit = impl_->limits.max_inflated_bytes;
  impl_->check_possible(e);
  if (impl_->deflated(e) && e.uncompressed_size > limit) {
    throw FormatError(impl_->label(e) + ": would inflate to " +
                      std::to_string(e.uncompressed_size) + " bytes, " + limit_advice(limit));
  }
  return impl_->read(e);
}

NpzArrays NpzReader::read_all() const {
  // The whole call's budget is checked up front, before any member is read.
  const std::uint64_t limit = impl_->limits.max_inflated_bytes;
  std::uint64_t total = 0;
  for (const auto& e : impl_->directory.entries) {
    if (!impl_->deflated(e)) continue;
    impl_->check_possible(e);
    if (e.uncompressed_size > limit - std::min(limit, total)) {
      throw FormatError(impl_->file.name() + ": its deflated members would inflate to more than " +
                        std::to_string(limit) + " bytes (member '" + detail::printable(e.name) +
                        "' alone declares " + std::to_string(e.uncompressed_size) + "), " +
                        limit_advice(limit));
    }
    total += e.uncompressed_size;
  }
  NpzArrays out;
  out.reserve(impl_->directory.entries.size());
  for (const auto& e : impl_->directory.entries) {
    out.emplace_back(key_of(e.name), impl_->read(e));
  }
  return out;
}

Array NpzReader::read_rows(std::string_view name, std::uint64_t start, std::uint64_t stop) const {
  const detail::ZipEntry& e = impl_->find(name);
  Impl::Rows r = impl_->open_rows(e);
  check_row_range(r.header.shape, start, stop, impl_->label(e));
  return impl_->read_planned(e, r, stop - start, detail::plan_range(r.layout, start, stop, r.header.fortran_order));
}

Array NpzReader::read_rows(std::string_view name, RowIndices indices) const {
  const detail::ZipEntry& e = impl_->find(name);
  Impl::Rows r = impl_->open_rows(e);
  const std::vector<std::uint64_t> rows = detail::resolve_rows(indices, r.header.shape, impl_->label(e));
  return impl_->read_planned(e, r, rows.size(), detail::plan_rows(r.layout, rows, r.header.fortran_order, impl_->order(e)));
}

void NpzReader::read_rows_into(std::string_view name, RowIndices indices, void* buffer, std::uint64_t size) const {
  const detail::ZipEntry& e = impl_->find(name);
  Impl::Rows r = impl_->open_rows(e);
  const std::vector<std::uint64_t> rows = detail::resolve_rows(indices, r.header.shape, impl_->label(e));
  if (detail::buffer_bytes(r.header.shape, rows.size(), r.header.dtype.itemsize(), size, impl_->label(e)) != 0) {
    impl_->gather(e, *r.src, r.header, detail::plan_rows(r.layout, rows, false, impl_->order(e)), static_cast<std::byte*>(buffer));
  }
}

void NpzReader::read_rows_into(std::string_view name, RowIndices indices, void* buffer, std::uint64_t size,
                               const DType& as) const {
  const detail::ZipEntry& e = impl_->find(name);
  const DType stored = impl_->open_rows(e).header.dtype;
  detail::check_readable_as(stored, as, impl_->label(e));
  read_rows_into(name, indices, buffer, size);
  detail::convert_byte_order(stored, as, buffer, size);
}

Array NpzReader::map(std::string_view name) const {
  const detail::ZipEntry& e = impl_->find(name);
  if (impl_->deflated(e)) {
    throw UsageError(impl_->label(e) + ": the member is deflated; only stored members can be memory-mapped");
  }
  Impl::Rows r = impl_->open_rows(e);
  const NpyHeader& h = r.header;
  const detail::Mapping* m = impl_->mapping();
  if (m == nullptr) {
    throw FileError(impl_->file.name() + ": cannot map the archive into memory", ENOMEM);
  }
  auto* data = m->at(r.layout.base);
  return Array(h.dtype, h.shape, h.order(), impl_->mapped.get(impl_->file), data, Access::ReadOnly);
}

void NpzReader::extract(std::string_view name, const std::filesystem::path& npy) const {
  const detail::ZipEntry& e = impl_->find(name);
  const auto src = impl_->open(e);
  std::vector<std::byte> head;
  // The header is checked (a member that is not an .npy file is not
  // copied) and its bytes, read exactly, are the copy's first.
  const NpyHeader h = impl_->header(*src, head, true, e);
  detail::AtomicOutput out(npy);
  out.file().write_all(head.data(), head.size());
  std::vector<std::byte> block(static_cast<std::size_t>(std::min<std::uint64_t>(h.data_bytes, kExtractBlock)));
  for (std::uint64_t at = h.data_offset; at < e.uncompressed_size;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), e.uncompressed_size - at));
    if (src->read_at(block.data(), n, at) != n) {
      throw FormatError(impl_->label(e) + ": the member's data ends before its declared " +
                        std::to_string(e.uncompressed_size) + " bytes");
    }
    out.file().write_all(block.data(), n);
    at += n;
  }
  src->finish();
  out.commit();
}

std::vector<NpzMember> list_npz(const std::filesystem::path& path) {
  return NpzReader(path).members();
}

NpzArrays read_npz(const std::filesystem::path& path, NpzLimits limits) {
  return NpzReader(path, limits).read_all();
}

void write_npz(const std::filesystem::path& path,
               const std::vector<std::pair<std::string, ArrayView>>& arrays,
               NpzCompression compression) {
  const std::string file = detail::quote(path);
  std::unordered_set<std::string_view> seen;
  for (const auto& [name, array] : arrays) {
    const std::string what = file + ": array name '" + detail::printable(name) + "'";
    if (name.find('\0') != std::string::npos) throw UsageError(what + " contains a NUL byte");
    if (!detail::is_utf8(name)) throw UsageError(what + " is not valid UTF-8");
    if (name.size() > 0xffff - kSuffix.size()) {
      throw UsageError(what + " is longer than a zip member name can be");
    }
    if (!seen.insert(name).second) throw UsageError(what + " is given twice");
  }
  detail::AtomicOutput output(path);
  detail::ZipWriter zip(output.file());
  for (const auto& [name, array] : arrays) {
    const ArrayView& view = array;
    zip.add(name + std::string(kSuffix), compression == NpzCompression::Deflated,
            [&view](const detail::Sink& sink) { detail::write_npy_to(view, sink); });
  }
  zip.finish();
  output.commit();
}

}  // namespace ndbridge
