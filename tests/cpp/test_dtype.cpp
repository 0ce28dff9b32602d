#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>

#include "ndbridge/dtype.hpp"
#include "ndbridge/error.hpp"

using ndbridge::ByteOrder;
using ndbridge::DType;
using ndbridge::Kind;

TEST(DType, ParsesEverySupportedDescrAndSpellsItBack) {
  for (const char* descr : {"|b1", "|i1", "|u1", "<i2", ">i2", "<i4", ">i4", "<i8", ">i8", "<u2",
                            ">u2", "<u4", ">u4", "<u8", ">u8", "<f2", ">f2", "<f4", ">f4", "<f8",
                            ">f8", "<c8", ">c8", "<c16", ">c16", "|S1", "|S17", "<U1", ">U9"}) {
    EXPECT_EQ(DType::from_descr(descr).descr(), descr);
  }
}

TEST(DType, NormalisesByteOrderLikeNumpy) {
  EXPECT_EQ(DType::from_descr("<i1").descr(), "|i1");
  EXPECT_EQ(DType::from_descr(">S3").descr(), "|S3");
  EXPECT_EQ(DType::from_descr("|f4"), DType::of<float>());
  EXPECT_EQ(DType::from_descr("=f8"), DType::of<double>());
  EXPECT_EQ(DType::from_descr("f8"), DType::of<double>());
  EXPECT_EQ(DType::from_descr("|a4").descr(), "|S4");
}

TEST(DType, UnicodeItemsizeIsFourBytesPerCharacter) {
  const DType u = DType::from_descr("<U7");
  EXPECT_EQ(u.kind(), Kind::Unicode);
  EXPECT_EQ(u.itemsize(), 28u);
  EXPECT_EQ(u.swap_unit(), 4u);
}

TEST(DType, MapsCppTypes) {
  EXPECT_EQ(DType::of<bool>().descr(), "|b1");
  EXPECT_EQ(DType::of<std::int8_t>().descr(), "|i1");
  EXPECT_EQ(DType::of<std::uint16_t>().descr(), "<u2");
  EXPECT_EQ(DType::of<long long>(), DType::of<std::int64_t>());
  EXPECT_EQ(DType::of<ndbridge::float16>().descr(), "<f2");
  EXPECT_EQ(DType::of<std::complex<double>>().descr(), "<c16");
  EXPECT_EQ(DType::of<std::complex<float>>().swap_unit(), 4u);
}

TEST(DType, RejectsUnsupportedNumpyTypesByName) {
  for (const char* descr : {"|O", "|O8", "|V8", "<M8[ns]", "<m8[s]", "<f16", "<c32", "<g", "|S0"}) {
    EXPECT_THROW(DType::from_descr(descr), ndbridge::UnsupportedError) << descr;
  }
}

TEST(DType, RejectsStringsThatAreNoDtype) {
  for (const char* descr : {"", "<", "<f3", "<i16", "hello", "<b2", "|S-1", "<c4", "|S99999999999999"}) {
    EXPECT_THROW(DType::from_descr(descr), ndbridge::Error) << descr;
  }
  EXPECT_THROW(DType::from_descr("<f3"), ndbridge::FormatError);
}

TEST(Float16, ConvertsExactlyBothWays) {
  // Every finite half survives half -> float -> half unchanged.
  for (std::uint32_t bits = 0; bits < 0x10000u; ++bits) {
    const ndbridge::float16 h{static_cast<std::uint16_t>(bits)};
    const float f = h.to_float();
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(ndbridge::float16::from_float(f).to_float()));
      continue;
    }
    EXPECT_EQ(ndbridge::float16::from_float(f).bits, h.bits) << bits;
  }
  EXPECT_EQ(ndbridge::float16{0x3c00}.to_float(), 1.0f);
  EXPECT_EQ(ndbridge::float16{0x0001}.to_float(), std::ldexp(1.0f, -24));
  EXPECT_EQ(ndbridge::float16::from_float(65520.0f).bits, 0x7c00);  // rounds to inf
  EXPECT_EQ(ndbridge::float16::from_float(1.0f + std::ldexp(1.0f, -11)).bits, 0x3c00);  // ties to even
}
