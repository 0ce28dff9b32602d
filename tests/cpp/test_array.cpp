#include <gtest/gtest.h>

#include <cstdint>
#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "ndbridge/array.hpp"
#include "ndbridge/npy.hpp"

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
    Array a = Array::uninitialized(DType::of<std::int32_t>(), {4, 3}, fortran ? ndbridge::MemoryOrder::Fortran : ndbridge::MemoryOrder::C);
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
  EXPECT_TRUE(ArrayView::contiguous(data, f4, {3, 4}, ndbridge::MemoryOrder::Fortran).is_f_contiguous());
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

TEST(Array, StringsFromByteAndUnicodeArrays) {
  const char bytes[6] = {'a', 'b', '\0', 'x', 'y', 'z'};
  const auto s3 = ArrayView::contiguous(bytes, DType::from_descr("|S3"), {2});
  EXPECT_EQ(ndbridge::to_strings(s3), (std::vector<std::string>{"ab", "xyz"}));

  // "é" and "€x" as numpy stores str: UCS-4 code units, NUL padded.
  const char32_t text[4] = {U'\u00e9', U'\0', U'\u20ac', U'x'};
  const auto native = ArrayView::contiguous(text, DType::from_descr("=U2"), {2});
  const std::vector<std::string> expected{"\xc3\xa9", "\xe2\x82\xac" "x"};
  EXPECT_EQ(ndbridge::to_strings(native), expected);
  // The same in the other byte order.
  unsigned char swapped[16];
  std::memcpy(swapped, text, 16);
  for (int i = 0; i < 16; i += 4) std::reverse(swapped + i, swapped + i + 4);
  const bool little = ndbridge::native_byte_order() == ndbridge::ByteOrder::Little;
  const auto foreign = ArrayView::contiguous(swapped, DType::from_descr(little ? ">U2" : "<U2"), {2});
  EXPECT_EQ(ndbridge::to_strings(foreign), expected);

  // C order whatever the memory order: a 2x2 Fortran array lists a, c, b, d.
  const char letters[4] = {'a', 'b', 'c', 'd'};
  const auto fortran = ArrayView::contiguous(letters, DType::from_descr("|S1"), {2, 2}, ndbridge::MemoryOrder::Fortran);
  EXPECT_EQ(ndbridge::to_strings(fortran), (std::vector<std::string>{"a", "c", "b", "d"}));

  Array owned = Array::uninitialized(DType::from_descr("|S2"), {1});
  std::memcpy(owned.mutable_bytes(), "hi", 2);
  EXPECT_EQ(ndbridge::to_strings(owned), (std::vector<std::string>{"hi"}));
}

TEST(Array, StringsRefuseOtherKindsAndBadCodePoints) {
  const std::int32_t numbers[2] = {1, 2};
  EXPECT_THROW(ndbridge::to_strings(ArrayView::contiguous(numbers, DType::of<std::int32_t>(), {2})),
               ndbridge::UsageError);
  const char32_t surrogate[1] = {0xd800};
  EXPECT_THROW(ndbridge::to_strings(ArrayView::contiguous(surrogate, DType::from_descr("=U1"), {1})),
               ndbridge::FormatError);
}

// The deprecated bool spellings compile and map to MemoryOrder and Access.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
TEST(Array, DeprecatedBoolOrderStillWorks) {
  const float data[12] = {};
  const DType f4 = DType::of<float>();
  EXPECT_EQ(ArrayView::contiguous(data, f4, {3, 4}, true).strides(),
            ArrayView::contiguous(data, f4, {3, 4}, ndbridge::MemoryOrder::Fortran).strides());
  EXPECT_EQ(ArrayView::contiguous(data, f4, {3, 4}, false).strides(), (std::vector<std::int64_t>{16, 4}));
  EXPECT_TRUE(Array::uninitialized(f4, {3, 4}, true).fortran_order());
  EXPECT_EQ(Array::uninitialized(f4, {3, 4}, true).order(), ndbridge::MemoryOrder::Fortran);
  EXPECT_FALSE(Array::uninitialized(f4, {3, 4}, false).fortran_order());
  EXPECT_EQ(ndbridge::make_npy_header(f4, {3, 4}, true), ndbridge::make_npy_header(f4, {3, 4}, ndbridge::MemoryOrder::Fortran));
  EXPECT_EQ(ndbridge::make_npy_header(f4, {3, 4}, false), ndbridge::make_npy_header(f4, {3, 4}));
  auto storage = std::make_shared<std::vector<float>>(12);
  auto* bytes = reinterpret_cast<std::byte*>(storage->data());
  const Array lent(f4, {3, 4}, true, storage, bytes, false);
  EXPECT_EQ(lent.order(), ndbridge::MemoryOrder::Fortran);
  EXPECT_FALSE(lent.writable());
  EXPECT_TRUE(Array(f4, {3, 4}, false, storage, bytes, true).writable());
}
#pragma GCC diagnostic pop

TEST(Array, TakesOverStorageItIsLent) {
  auto storage = std::make_shared<std::vector<float>>(std::vector<float>{1, 2, 3, 4, 5, 6});
  auto* bytes = reinterpret_cast<std::byte*>(storage->data());
  Array array(DType::of<float>(), {2, 3}, ndbridge::MemoryOrder::C, storage, bytes, ndbridge::Access::Writable);
  storage.reset();  // the array keeps the memory alive
  array.mutable_data<float>()[5] = 60;
  EXPECT_EQ(array.data<float>()[5], 60);
  EXPECT_EQ(array.data<float>()[0], 1);
  const Array view(DType::of<float>(), {2, 3}, ndbridge::MemoryOrder::C, std::make_shared<int>(0), bytes,
                   ndbridge::Access::ReadOnly);
  EXPECT_FALSE(view.writable());
  EXPECT_THROW((void)const_cast<Array&>(view).mutable_data<float>(), ndbridge::UsageError);
}
