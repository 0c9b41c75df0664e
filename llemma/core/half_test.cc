#include "llemma/core/half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace llemma {
namespace {

TEST(Half, Bf16RoundTripsExactValuesAndRoundsToNearestEven) {
  for (float v : {0.0f, 1.0f, -2.5f, 65536.0f, 0.00390625f, 1.5f}) {
    EXPECT_EQ(Bf16ToF32(F32ToBf16(v)), v) << v;
  }
  // 1 + 2^-8 lies exactly between 1 and 1 + 2^-7: ties go to the even mantissa (1).
  EXPECT_EQ(Bf16ToF32(F32ToBf16(1.0f + std::ldexp(1.0f, -8))), 1.0f);
  // 1 + 3*2^-8 lies between 1+2^-7 (odd) and 1+2^-6 (even): goes to 1+2^-6.
  EXPECT_EQ(Bf16ToF32(F32ToBf16(1.0f + 3 * std::ldexp(1.0f, -8))), 1.0f + std::ldexp(1.0f, -6));
  EXPECT_TRUE(std::isnan(Bf16ToF32(F32ToBf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(Half, F16MatchesKnownEncodings) {
  EXPECT_EQ(F32ToF16(1.0f), 0x3c00);
  EXPECT_EQ(F32ToF16(-2.0f), 0xc000);
  EXPECT_EQ(F32ToF16(65504.0f), 0x7bff);
  EXPECT_EQ(F32ToF16(1e6f), 0x7c00);                 // overflow -> inf
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -26)), 0x0000);  // rounds to zero
  EXPECT_EQ(F16ToF32(0x3555), 0.333251953125f);
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(F16ToF32(0x7c00)));
}

TEST(Half, F16RoundTripOfEveryFiniteEncoding) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;  // inf/nan
    const float f = F16ToF32(static_cast<uint16_t>(h));
    EXPECT_EQ(F32ToF16(f), h) << std::hex << h;
  }
}

TEST(Half, F16NarrowingRoundsToNearest) {
  // Compare against double-precision rounding over a sweep of values.
  for (int i = -2000; i <= 2000; ++i) {
    const float f = static_cast<float>(i) * 0.0137f;
    const float back = F16ToF32(F32ToF16(f));
    const float next_up = F16ToF32(F32ToF16(f) + 1);
    EXPECT_LE(std::fabs(back - f), std::fabs(next_up - f) + 1e-12f) << f;
  }
}

}  // namespace
}  // namespace llemma
