// ndbridge-ls and ndbridge-cat on every kind of file, run as programs.
// The fixtures are written at test time by ndbridge's own writers
// (write_npy, H5Writer): the tools must work on a machine without Python,
// so their tests need none. (tests/python/test_cpp_tools.py checks, where
// the Python package is at hand, that both `ls` tools give the same facts.)

#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <complex>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ndbridge/config.hpp"
#include "ndbridge/describe.hpp"
#include "ndbridge/npy.hpp"
#include "ndbridge/npz.hpp"
#if NDBRIDGE_WITH_HDF5
#include "ndbridge/h5.hpp"
#endif

namespace fs = std::filesystem;
using ndbridge::ArrayView;
using ndbridge::ByteOrder;
using ndbridge::DType;
using ndbridge::Kind;
using ndbridge::Shape;

namespace {

struct Result {
  int code = -1;
  std::string out;
};

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `tool` with `args`; stdout (and with `merge_stderr`, stderr) is captured.
Result run(const char* tool, const std::vector<std::string>& args, bool merge_stderr = false) {
  std::string command = shell_quote(tool);
  for (const auto& a : args) command += " " + shell_quote(a);
  command += merge_stderr ? " 2>&1" : " 2>/dev/null";
  Result r;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

Result ls(const std::vector<std::string>& args, bool merge = false) { return run(NDBRIDGE_LS, args, merge); }
Result cat(const std::vector<std::string>& args, bool merge = false) { return run(NDBRIDGE_CAT, args, merge); }

std::string bytes_of(const void* p, std::size_t n) { return std::string(static_cast<const char*>(p), n); }

class Tools : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string tmpl = (fs::temp_directory_path() / "ndbridge-tools-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    write_fixtures();
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string path(const char* name) { return (dir_ / name).string(); }

  static void write_fixtures() {
    const std::vector<float> f4 = {0.0f, 1.5f, 2.0f, 3.0f, 0.1f, -5e-7f};
    ndbridge::write_npy(path("f4.npy"), ArrayView::contiguous(f4.data(), DType::of<float>(), {2, 3}));
    // Big-endian int64 1, 2, 258.
    const unsigned char be[] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 2};
    ndbridge::write_npy(path("be.npy"), ArrayView::contiguous(be, DType(Kind::Int, 8, ByteOrder::Big), {3}));
    // Fortran order: the 2x3 array [[1, 2, 3], [4, 5, 6]] stored by columns.
    const std::vector<std::int16_t> fortran = {1, 4, 2, 5, 3, 6};
    ndbridge::write_npy(path("fortran.npy"),
                        ArrayView::contiguous(fortran.data(), DType::of<std::int16_t>(), {2, 3}, ndbridge::MemoryOrder::Fortran));
    const double scalar = 3.25;
    ndbridge::write_npy(path("scalar.npy"), ArrayView::contiguous(&scalar, DType::of<double>(), {}));
    ndbridge::write_npy(path("empty.npy"), ArrayView::contiguous(f4.data(), DType::of<float>(), {0, 3}));
    const bool flags[] = {true, false};
    ndbridge::write_npy(path("bool.npy"), ArrayView::contiguous(flags, DType::of<bool>(), {2}));
    const std::complex<double> c[] = {{1, 2}, {-0.5, -1}};
    ndbridge::write_npy(path("complex.npy"), ArrayView::contiguous(c, DType::of<std::complex<double>>(), {2}));
    const char s3[] = "ab\0xyz";
    ndbridge::write_npy(path("bytes.npy"), ArrayView::contiguous(s3, DType(Kind::Bytes, 3, ByteOrder::NotApplicable), {2}));
    const char32_t u2[] = {U'h', U'\u00e9', U'x', 0};
    ndbridge::write_npy(path("unicode.npy"), ArrayView::contiguous(u2, DType::from_descr("<U2"), {2}));
    const ndbridge::float16 half[] = {ndbridge::float16::from_float(0.5f), ndbridge::float16::from_float(-2.0f)};
    ndbridge::write_npy(path("half.npy"), ArrayView::contiguous(half, DType::of<ndbridge::float16>(), {2}));
    std::ofstream(path("notes.txt")) << "not an array\n";
    // An empty zip archive: an .npz with no members.
    std::ofstream(path("empty.npz"), std::ios::binary) << std::string("PK\x05\x06", 4) << std::string(18, '\0');

#if NDBRIDGE_WITH_HDF5
    ndbridge::H5Writer w(path("data.h5"));
    std::vector<std::uint8_t> images(4 * 2 * 2 * 3);
    for (std::size_t i = 0; i < images.size(); ++i) images[i] = static_cast<std::uint8_t>(i);
    ndbridge::H5DatasetOptions gzip;
    gzip.compression = ndbridge::H5Compression::Gzip;
    gzip.shuffle = true;
    gzip.chunks = Shape{1, 2, 2, 3};
    w.write("images", ArrayView::contiguous(images.data(), DType::of<std::uint8_t>(), {4, 2, 2, 3}), gzip);
    const std::vector<std::int64_t> labels = {0, 1, 1, 0};
    w.write("labels", ArrayView::contiguous(labels.data(), DType::of<std::int64_t>(), {4}));
    ndbridge::H5DatasetOptions lzf;
    lzf.compression = ndbridge::H5Compression::Lzf;
    w.write("grp/sub/f4", ArrayView::contiguous(f4.data(), DType::of<float>(), {2, 3}), lzf);
    w.write("grp/flags", ArrayView::contiguous(flags, DType::of<bool>(), {2}));
    w.write("grp/complex", ArrayView::contiguous(c, DType::of<std::complex<double>>(), {2}));
    w.write("grp/text", ArrayView::contiguous(u2, DType::from_descr("<U2"), {2}));
    w.set_attribute("/", "format", std::string("ndbridge-pack"));
    const std::int64_t count = 4;
    w.set_attribute("/", "count", ArrayView::contiguous(&count, DType::of<std::int64_t>(), {}));
    const double scale[] = {0.5, 2.0, 10.0};
    w.set_attribute("/grp/sub/f4", "scale", ArrayView::contiguous(scale, DType::of<double>(), {3}));
    w.commit();
#endif
  }

  static fs::path dir_;
};

fs::path Tools::dir_;

TEST_F(Tools, LsNpyText) {
  const Result r = ls({path("f4.npy")});
  ASSERT_EQ(r.code, 0);
  EXPECT_EQ(r.out, path("f4.npy") + ": .npy, 152 B, 1 array\n(array)  <f4  (2, 3)\n");
  EXPECT_EQ(ls({path("fortran.npy")}).out,
            path("fortran.npy") + ": .npy, 140 B, 1 array\n(array)  <i2  (2, 3)  Fortran order\n");
  EXPECT_NE(ls({path("scalar.npy")}).out.find("(array)  <f8  ()\n"), std::string::npos);
  EXPECT_NE(ls({path("be.npy")}).out.find("(array)  >i8  (3,)\n"), std::string::npos);
  EXPECT_NE(ls({path("unicode.npy")}).out.find("(array)  <U2  (2,)\n"), std::string::npos);
}

TEST_F(Tools, LsNpyJson) {
  const Result r = ls({"--json", path("fortran.npy")});
  ASSERT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "{\n  \"path\": \"" + path("fortran.npy") +
                       "\",\n  \"format\": \"npy\",\n  \"size\": 140,\n  \"entries\": [\n    {\n"
                       "      \"name\": null,\n      \"kind\": \"array\",\n      \"dtype\": \"<i2\",\n"
                       "      \"shape\": [\n        2,\n        3\n      ],\n"
                       "      \"readable\": true,\n      \"unreadable_reason\": null,\n      \"type\": null,\n      \"fortran_order\": true,\n"
                       "      \"layout\": null,\n      \"chunks\": null,\n      \"filters\": [],\n"
                       "      \"stored_bytes\": 12,\n      \"nbytes\": 12,\n"
                       "      \"virtual_sources\": [],\n      \"error\": null,\n"
                       "      \"attributes\": {}\n"
                       "    }\n  ]\n}\n");
}

TEST_F(Tools, CatNpyValues) {
  EXPECT_EQ(cat({path("f4.npy")}).out, "0.0 1.5 2.0\n3.0 0.1 -5e-07\n");
  EXPECT_EQ(cat({path("be.npy")}).out, "1\n2\n258\n");
  EXPECT_EQ(cat({path("fortran.npy")}).out, "1 2 3\n4 5 6\n");  // C order, whatever the file's
  EXPECT_EQ(cat({path("scalar.npy")}).out, "3.25\n");
  EXPECT_EQ(cat({path("empty.npy")}).out, "");
  EXPECT_EQ(cat({path("bool.npy")}).out, "True\nFalse\n");
  EXPECT_EQ(cat({path("complex.npy")}).out, "(1+2j)\n(-0.5-1j)\n");
  EXPECT_EQ(cat({path("bytes.npy")}).out, "b'ab'\nb'xyz'\n");
  EXPECT_EQ(cat({path("unicode.npy")}).out, "'h\xc3\xa9'\n'x'\n");
  EXPECT_EQ(cat({path("half.npy")}).out, "0.5\n-2.0\n");
}

TEST_F(Tools, CatNpyRows) {
  EXPECT_EQ(cat({path("f4.npy"), "--rows", "1:2"}).out, "3.0 0.1 -5e-07\n");
  EXPECT_EQ(cat({path("be.npy"), "--rows", "1:"}).out, "2\n258\n");
  EXPECT_EQ(cat({path("be.npy"), "--rows=:1"}).out, "1\n");
  EXPECT_EQ(cat({path("fortran.npy"), "--rows", "1:2"}).out, "4 5 6\n");
}

TEST_F(Tools, CatRawIsCOrderInTheFilesByteOrder) {
  const unsigned char be[] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 2};
  EXPECT_EQ(cat({path("be.npy"), "--raw"}).out, bytes_of(be, sizeof be));
  const std::int16_t c_order[] = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(cat({path("fortran.npy"), "--raw"}).out, bytes_of(c_order, sizeof c_order));
  const float row[] = {3.0f, 0.1f, -5e-7f};
  EXPECT_EQ(cat({path("f4.npy"), "--raw", "--rows", "1:2"}).out, bytes_of(row, sizeof row));
}

TEST_F(Tools, Errors) {
  Result r = ls({path("notes.txt")}, true);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("not an .npy, .npz or HDF5 file"), std::string::npos) << r.out;
  r = cat({path("missing.npy")}, true);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("missing.npy"), std::string::npos) << r.out;
  r = cat({path("f4.npy"), "--rows", "1:9"}, true);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("outside the first axis"), std::string::npos) << r.out;
  r = cat({path("scalar.npy"), "--rows", "0:1"}, true);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("0-d"), std::string::npos) << r.out;
  r = cat({path("f4.npy") + ":x"}, true);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("is an .npy file"), std::string::npos) << r.out;
  EXPECT_EQ(cat({path("f4.npy"), "--rows", "a:b"}).code, 2);
  EXPECT_EQ(ls({}).code, 2);
  EXPECT_EQ(ls({"--help"}).code, 0);
  EXPECT_EQ(ls({"--version"}).out, std::string("ndbridge-ls ") + NDBRIDGE_VERSION_STRING + "\n");
}

TEST_F(Tools, Npz) {
  const std::vector<std::int32_t> values = {1, 2, 3, 4, 5, 6};
  ndbridge::write_npz(path("pair.npz"),
                      {{"m", ndbridge::ArrayView::contiguous(values.data(), ndbridge::DType::of<std::int32_t>(), {3, 2}, ndbridge::MemoryOrder::Fortran)},
                       {"v", ndbridge::ArrayView::contiguous(values.data(), ndbridge::DType::of<std::int32_t>(), {6})}},
                      ndbridge::NpzCompression::Deflated);
  const Result listing = ls({path("pair.npz"), "--json"});
  ASSERT_EQ(listing.code, 0) << listing.out;
  EXPECT_NE(listing.out.find("\"name\": \"m\""), std::string::npos) << listing.out;
  EXPECT_NE(listing.out.find("\"deflate\""), std::string::npos) << listing.out;
  EXPECT_EQ(cat({path("pair.npz") + ":v", "--rows", "4:6"}).out, "5\n6\n");
  // Fortran-ordered (3, 2): rows 1..3 of [[1, 4], [2, 5], [3, 6]].
  EXPECT_EQ(cat({path("pair.npz") + ":m", "--rows", "1:3"}).out, "2 5\n3 6\n");
  // Rows outside the member, or backwards: one line naming it, exit 1 as
  // for .npy and HDF5 (never a read past the member's end).
  for (const char* bad : {"4:60", "5:2"}) {
    const Result r = run(NDBRIDGE_CAT, {path("pair.npz") + ":v", "--rows", bad}, true);
    EXPECT_EQ(r.code, 1) << bad << ": " << r.out;
    EXPECT_NE(r.out.find("pair.npz' member 'v.npy'"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("outside the first axis"), std::string::npos) << r.out;
  }
  const Result ambiguous = run(NDBRIDGE_CAT, {path("pair.npz")}, true);
  EXPECT_EQ(ambiguous.code, 1);
  EXPECT_NE(ambiguous.out.find("name one as FILE:NAME"), std::string::npos) << ambiguous.out;
  const Result empty = ls({path("empty.npz")});
  EXPECT_EQ(empty.code, 0) << empty.out;
}

#if NDBRIDGE_WITH_HDF5
TEST_F(Tools, LsHdf5Text) {
  const Result r = ls({path("data.h5")});
  ASSERT_EQ(r.code, 0);
  // What the compressed datasets take in the file is zlib's and lzf's
  // business (checked against h5py in the Python tests); the listing shows
  // the library's figure, under 1 KiB here.
  const ndbridge::FileDescription d = ndbridge::describe(path("data.h5"));
  const auto stored = [&](const std::string& name) {
    for (const auto& e : d.entries) {
      if (e.name == name && e.stored_bytes) return ", " + std::to_string(*e.stored_bytes) + " B stored";
    }
    return std::string(", (no stored size)");
  };
  const std::string expected_tail =
      ", 6 arrays\n"
      "/            group\n"
      "  @count = 4\n"
      "  @format = 'ndbridge-pack'\n"
      "  grp/       group\n"
      "    complex  <c16   (2,)\n"
      "    flags    |b1    (2,)\n"
      "    sub/     group\n"
      "      f4     <f4    (2, 3)        chunks 2x3, lzf" + stored("/grp/sub/f4") + "\n"
      "        @scale = [0.5 2.0 10.0]\n"
      "    text     str    (2,)          variable-length UTF-8 string\n"
      "  images     |u1    (4, 2, 2, 3)  chunks 1x2x2x3, shuffle+gzip" + stored("/images") + "\n"
      "  labels     <i8    (4,)\n";
  ASSERT_GT(r.out.size(), expected_tail.size());
  EXPECT_EQ(r.out.substr(0, path("data.h5").size() + 8), path("data.h5") + ": HDF5, ");
  EXPECT_EQ(r.out.substr(r.out.size() - expected_tail.size()), expected_tail) << r.out;
}

TEST_F(Tools, LsHdf5Json) {
  const Result r = ls({"--json", path("data.h5")});
  ASSERT_EQ(r.code, 0);
  for (const char* piece : {
           "\"format\": \"h5\"",
           "\"name\": \"/grp/sub/f4\",\n      \"kind\": \"array\",\n      \"dtype\": \"<f4\"",
           "\"layout\": \"chunked\",\n      \"chunks\": [\n        1,\n        2,\n        2,\n        3\n      ],\n"
           "      \"filters\": [\n        \"shuffle\",\n        \"gzip\"\n      ]",
           "\"scale\": {\n          \"dtype\": \"<f8\",\n          \"shape\": [\n            3\n          ],\n"
           "          \"preview\": \"[0.5 2.0 10.0]\"",
           "\"name\": \"/grp\",\n      \"kind\": \"group\",\n      \"dtype\": null,\n      \"shape\": null",
           "\"nbytes\": 48",
       })
    EXPECT_NE(r.out.find(piece), std::string::npos) << piece << "\nin\n" << r.out;
}

TEST_F(Tools, CatHdf5) {
  EXPECT_EQ(cat({path("data.h5") + ":labels"}).out, "0\n1\n1\n0\n");
  EXPECT_EQ(cat({path("data.h5") + ":/grp/sub/f4", "--rows", "1:2"}).out, "3.0 0.1 -5e-07\n");
  EXPECT_EQ(cat({path("data.h5") + ":grp/flags"}).out, "True\nFalse\n");
  EXPECT_EQ(cat({path("data.h5") + ":grp/complex"}).out, "(1+2j)\n(-0.5-1j)\n");
  EXPECT_EQ(cat({path("data.h5") + ":grp/text"}).out, "'h\xc3\xa9'\n'x'\n");
  EXPECT_EQ(cat({path("data.h5") + ":images", "--rows", "3:4"}).out,
            "36 37 38\n39 40 41\n42 43 44\n45 46 47\n");
  std::string row3;
  for (int i = 36; i < 48; ++i) row3 += static_cast<char>(i);
  EXPECT_EQ(cat({path("data.h5") + ":images", "--rows", "3:4", "--raw"}).out, row3);

  Result r = cat({path("data.h5")}, true);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("holds 6 datasets; name one as FILE:DATASET"), std::string::npos) << r.out;
  r = cat({path("data.h5") + ":nope"}, true);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("nope"), std::string::npos) << r.out;
}
#endif

}  // namespace
