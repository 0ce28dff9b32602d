#include "ndbridge/npz.hpp"

#include <algorithm>
#include <unordered_set>

#include "detail/atomic_output.hpp"
#include "detail/file.hpp"
#include "detail/npy_codec.hpp"
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

  // A declared size no deflate stream of the member's length could reach is
  // a lie, reported as such rather than as a limit to raise.
  void check_possible(const detail::ZipEntry& e) const {
    if (deflated(e) && e.uncompressed_size / kMaxDeflateRatio > e.compressed_size + 1) {
      throw FormatError(label(e) + ": declares " + std::to_string(e.uncompressed_size) +
                        " uncompressed bytes, more than " + std::to_string(e.compressed_size) +
                        " bytes of deflate data can hold (lying size)");
    }
  }

  // Checks what can be checked before touching the member's data, and opens it.
  std::unique_ptr<detail::MemberSource> open(const detail::ZipEntry& e) const {
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
    const std::uint64_t data =
        detail::locate_zip_data(file, e, directory.central_directory_offset, what);
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
