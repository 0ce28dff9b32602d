#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "ndbridge/array.hpp"

using ndbridge::Array;
using ndbridge::ArrayView;
using ndbridge::DType;

TEST(Array, UninitializedHasShapeSizeAndAlignment) {
  Array a = Array::uninitialized(DType::of<float>(), {3, 4});
  EXPECT_EQ(a.size(), 12u);
  EXPECT_EQ(a.nbytes(), 48u);
  EXPECT_TRUE(a.writable());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a.bytes()) % 64, 0u);
  float* p = a.mutable_data<float>();
  for (int i = 0; i < 12; ++i) p[i] = static_cast<float>(i);
  EXPECT_EQ(a.data<float>()[11], 11.0f);
}

TEST(Array, LargeBuffersAreUsable) {
  Array a = Array::uninitialized(DType::of<std::uint8_t>(), {std::uint64_t{32} << 20});
  std::memset(a.mutable_bytes(), 7, a.nbytes());
  EXPECT_EQ(a.bytes()[a.nbytes() - 1], std::byte{7});
}

TEST(Array, TypedAccessChecksTheDtype) {
  Array a = Array::uninitialized(DType::of<double>(), {2});
  EXPECT_THROW(a.data<float>(), ndbridge::UsageError);
  EXPECT_THROW(a.data<std::int64_t>(), ndbridge::UsageError);
}

TEST(Array, SwapsForeignByteOrderToNative) {
  Array a = Array::uninitialized(DType::from_descr(">u4"), {2});
  const unsigned char big[8] = {0, 0, 1, 2, 0xde, 0xad, 0xbe, 0xef};
  std::memcpy(a.mutable_bytes(), big, 8);
  EXPECT_THROW(a.data<std::uint32_t>(), ndbridge::UsageError);
  a.to_native_byte_order();
  EXPECT_EQ(a.dtype(), DType::of<std::uint32_t>());
  EXPECT_EQ(a.data<std::uint32_t>()[0], 0x0102u);
  EXPECT_EQ(a.data<std::uint32_t>()[1], 0xdeadbeefu);
}

TEST(Array, SwapsComplexPartsSeparately) {
  Array a = Array::uninitialized(DType::from_descr(">c8"), {1});
  const unsigned char big[8] = {0x3f, 0x80, 0, 0, 0x40, 0, 0, 0};  // 1.0, 2.0
  std::memcpy(a.mutable_bytes(), big, 8);
  a.to_native_byte_order();
  EXPECT_EQ(a.data<std::complex<float>>()[0], std::complex<float>(1.0f, 2.0f));
}

TEST(Array, RowsOfCAndFortranOrder) {
  for (const bool fortran : {false, true}) {
    Array a = Array::uninitialized(DType::of<std::int32_t>(), {4, 3}, fortran);
    std::iota(a.mutable_data<std::int32_t>(), a.mutable_data<std::int32_t>() + 12, 0);
    const ArrayView v = a.rows(1, 3);
    EXPECT_EQ(v.shape(), (ndbridge::Shape{2, 3}));
    // Element (r, c) of the view is element (r + 1, c) of the array.
    for (std::uint64_t r = 0; r < 2; ++r) {
      for (std::uint64_t c = 0; c < 3; ++c) {
        const auto* e = v.data() + static_cast<std::int64_t>(r) * v.strides()[0] +
                        static_cast<std::int64_t>(c) * v.strides()[1];
        std::int32_t value;
        std::memcpy(&value, e, 4);
        const std::uint64_t flat = fortran ? (r + 1) + 4 * c : (r + 1) * 3 + c;
        EXPECT_EQ(static_cast<std::uint64_t>(value), flat);
      }
    }
  }
  Array a = Array::uninitialized(DType::of<float>(), {4});
  EXPECT_THROW(a.rows(3, 2), ndbridge::UsageError);
  EXPECT_THROW(a.rows(0, 5), ndbridge::UsageError);
  Array scalar = Array::uninitialized(DType::of<float>(), {});
  EXPECT_THROW(scalar.rows(0, 0), ndbridge::UsageError);
}

TEST(ArrayView, KnowsItsContiguity) {
  const float data[12] = {};
  const DType f4 = DType::of<float>();
  EXPECT_TRUE(ArrayView::contiguous(data, f4, {3, 4}).is_c_contiguous());
  EXPECT_FALSE(ArrayView::contiguous(data, f4, {3, 4}).is_f_contiguous());
  EXPECT_TRUE(ArrayView::contiguous(data, f4, {3, 4}, true).is_f_contiguous());
  EXPECT_TRUE(ArrayView::contiguous(data, f4, {12}).is_f_contiguous());
  const ArrayView every_other(data, f4, {6}, {8});
  EXPECT_FALSE(every_other.is_c_contiguous());
  EXPECT_FALSE(every_other.is_f_contiguous());
  EXPECT_THROW(ArrayView(data, f4, {3, 4}, {4}), ndbridge::UsageError);
}

TEST(ElementCount, RefusesOverflow) {
  EXPECT_EQ(ndbridge::checked_element_count({}, 8, "x"), 1u);
  EXPECT_EQ(ndbridge::checked_element_count({5, 0, std::uint64_t{1} << 62}, 8, "x"), 0u);
  EXPECT_THROW(ndbridge::checked_element_count({std::uint64_t{1} << 32, std::uint64_t{1} << 32}, 1, "x"),
               ndbridge::FormatError);
  EXPECT_THROW(ndbridge::checked_element_count({std::uint64_t{1} << 61}, 8, "x"), ndbridge::FormatError);
}
