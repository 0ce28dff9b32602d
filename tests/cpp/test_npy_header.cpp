// The header dictionary parser, on header texts written out here: the texts
// are Python literals, so they are readable as they stand.
#include <gtest/gtest.h>

#include <string>

#include "detail/npy_header.hpp"
#include "ndbridge/error.hpp"

namespace {

ndbridge::NpyHeader parse(const std::string& text) {
  ndbridge::NpyHeader h;
  ndbridge::detail::parse_npy_dict(text, "'test.npy'", h);
  return h;
}

}  // namespace

TEST(NpyHeader, ParsesWhatNumpyWrites) {
  const auto h = parse("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }          \n");
  EXPECT_EQ(h.dtype.descr(), "<f4");
  EXPECT_FALSE(h.fortran_order);
  EXPECT_EQ(h.shape, (ndbridge::Shape{3, 4}));
  EXPECT_EQ(h.data_bytes, 48u);
}

TEST(NpyHeader, AcceptsAnyValidSpelling) {
  const char* texts[] = {
      "{\"shape\":(3,4),\"fortran_order\":True,\"descr\":\">i8\"}",
      "{ 'fortran_order' : True ,\n 'shape' : ( 3 , 4 , ) , 'descr' : '>i8' , }",
      "{'descr': u'>i8', 'fortran_order': True, 'shape': (3L, 4L)}",
      "{'descr': '>i8', 'fortran_order': True, 'shape': (3, 4)}  # a comment\n",
      "{'descr': ('>i8'), 'fortran_order': True, 'shape': (3, 4),}\t\r\n",
  };
  for (const char* text : texts) {
    const auto h = parse(text);
    EXPECT_EQ(h.dtype.descr(), ">i8") << text;
    EXPECT_TRUE(h.fortran_order) << text;
    EXPECT_EQ(h.shape, (ndbridge::Shape{3, 4})) << text;
  }
}

TEST(NpyHeader, ZeroDimensionalAndEmptyShapes) {
  EXPECT_TRUE(parse("{'descr': '|b1', 'fortran_order': False, 'shape': ()}").shape.empty());
  const auto h = parse("{'descr': '<c16', 'fortran_order': False, 'shape': (0, 5)}");
  EXPECT_EQ(h.shape, (ndbridge::Shape{0, 5}));
  EXPECT_EQ(h.data_bytes, 0u);
  EXPECT_EQ(parse("{'descr': '<u2', 'fortran_order': False, 'shape': (7,)}").shape,
            (ndbridge::Shape{7}));
}

TEST(NpyHeader, RejectsMalformedDictionaries) {
  const char* texts[] = {
      "",
      "[1, 2]",
      "(3, 4)",
      "'just a string'",
      "{'descr': '<f4', 'fortran_order': False}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}",
      "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}",
      "{'descr': '<f4', 'fortran_order': 0, 'shape': (3,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': [3]}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (-3,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3.5,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)} trailing",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)",
      "{'descr': '<f4, 'fortran_order': False, 'shape': (3,)}",
      "{'descr': 7, 'fortran_order': False, 'shape': (3,)}",
      "{'descr': '<f3', 'fortran_order': False, 'shape': (3,)}",
      "{1: '<f4', 'fortran_order': False, 'shape': (3,)}",
      "{'descr': '<f4', 'fortran_order': Flase, 'shape': (3,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (007,)}",
  };
  for (const char* text : texts) {
    try {
      parse(text);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const ndbridge::FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("'test.npy'"), std::string::npos) << e.what();
    }
  }
}

TEST(NpyHeader, RejectsHostileNesting) {
  std::string deep(10000, '(');
  EXPECT_THROW(parse("{'descr': '<f4', 'fortran_order': False, 'shape': " + deep + "}"),
               ndbridge::FormatError);
}

TEST(NpyHeader, UnsupportedContentIsNamedAsSuch) {
  EXPECT_THROW(parse("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,)}"),
               ndbridge::UnsupportedError);
  EXPECT_THROW(parse("{'descr': '|O', 'fortran_order': False, 'shape': (3,)}"),
               ndbridge::UnsupportedError);
}

TEST(NpyPrefix, ChecksMagicVersionAndLength) {
  using ndbridge::detail::parse_npy_prefix;
  auto bytes = [](const std::string& s) { return reinterpret_cast<const std::byte*>(s.data()); };
  const std::string v1("\x93NUMPY\x01\x00\x76\x00", 10);
  const auto p = parse_npy_prefix(bytes(v1), v1.size(), "f");
  EXPECT_EQ(p.major, 1);
  EXPECT_EQ(p.prefix_length, 10u);
  EXPECT_EQ(p.header_length, 0x76u);
  const std::string v2("\x93NUMPY\x02\x00\x76\x00\x01\x00", 12);
  EXPECT_EQ(parse_npy_prefix(bytes(v2), v2.size(), "f").header_length, 0x10076u);
  const std::string bad_magic("\x93NUMPZ\x01\x00\x76\x00", 10);
  EXPECT_THROW(parse_npy_prefix(bytes(bad_magic), 10, "f"), ndbridge::FormatError);
  const std::string v15("\x93NUMPY\x01\x05\x76\x00", 10);
  EXPECT_THROW(parse_npy_prefix(bytes(v15), 10, "f"), ndbridge::FormatError);
  const std::string v4("\x93NUMPY\x04\x00\x76\x00\x00\x00", 12);
  EXPECT_THROW(parse_npy_prefix(bytes(v4), 12, "f"), ndbridge::UnsupportedError);
  const std::string huge("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12);
  EXPECT_THROW(parse_npy_prefix(bytes(huge), 12, "f"), ndbridge::FormatError);
  EXPECT_THROW(parse_npy_prefix(bytes(v1), 5, "f"), ndbridge::FormatError);
  EXPECT_THROW(parse_npy_prefix(bytes(v2), 10, "f"), ndbridge::FormatError);
}
