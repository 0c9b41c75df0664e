#include "llemma/core/aligned_buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <utility>

namespace llemma {
namespace {

TEST(AlignedBuffer, SmallAndLargeBuffersAreAlignedWritableAndMovable) {
  for (size_t bytes : {size_t{1}, size_t{100}, size_t{4} << 20, (size_t{9} << 20) + 123}) {
    AlignedBuffer a(bytes);
    ASSERT_NE(a.data(), nullptr);
    EXPECT_EQ(a.size(), bytes);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data()) % 64, 0u) << bytes;
    if (bytes >= (size_t{4} << 20)) EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data()) % (size_t{2} << 20), 0u);
    std::memset(a.data(), 0xAB, bytes);  // the whole range is writable
    a.data()[bytes - 1] = 7;
    AlignedBuffer b(std::move(a));
    EXPECT_EQ(a.data(), nullptr);
    EXPECT_EQ(b.size(), bytes);
    if (bytes > 1) EXPECT_EQ(b.data()[0], 0xAB);
    EXPECT_EQ(b.data()[bytes - 1], 7);
    AlignedBuffer c;
    c = std::move(b);
    EXPECT_EQ(c.data()[bytes - 1], 7);
    c.Resize(10);  // from a mapping to the heap and back
    EXPECT_EQ(c.size(), 10u);
    c.Resize(bytes);
    c.data()[bytes - 1] = 1;
  }
}

}  // namespace
}  // namespace llemma
