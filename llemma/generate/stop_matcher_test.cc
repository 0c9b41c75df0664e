#include "llemma/generate/stop_matcher.h"

#include <gtest/gtest.h>

namespace llemma {
namespace {

// Pushes pieces and returns everything emitted (Push outputs, then Flush).
std::string Feed(StopMatcher& m, const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += m.Push(p);
  return out + m.Flush();
}

TEST(StopMatcher, StopSpanningManyPiecesIsCutAndDropped) {
  StopMatcher m({"I hope it is correct."});
  EXPECT_EQ(Feed(m, {"The answer is $5$. I", " hope", " it", " is corr", "ect.", " More"}),
            "The answer is $5$. ");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.matched(), "I hope it is correct.");
}

TEST(StopMatcher, HoldsBackOnlyWhatCouldStartAStop) {
  StopMatcher m({"\n\n"});
  EXPECT_EQ(m.Push("abc\n"), "abc");  // "\n" might begin "\n\n"
  EXPECT_EQ(m.Push("d"), "\nd");      // it did not
  EXPECT_EQ(m.Push("\n"), "");
  EXPECT_EQ(m.Push("\nrest"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.Push("more"), "");
}

TEST(StopMatcher, EarliestOccurrenceWinsAmongSeveralStops) {
  StopMatcher m({"xyz", "b", "abc"});
  EXPECT_EQ(Feed(m, {"12a", "bc xyz"}), "12");  // "abc" starts before "b"
  EXPECT_EQ(m.matched(), "abc");
  StopMatcher later({"xyz", "b"});
  EXPECT_EQ(Feed(later, {"12a", "bc xyz"}), "12a");
  EXPECT_EQ(later.matched(), "b");
  StopMatcher longest({"ab", "abc"});
  EXPECT_EQ(Feed(longest, {"--abcd"}), "--");
  EXPECT_EQ(longest.matched(), "abc");
}

TEST(StopMatcher, OverlappingPartialMatchesAreFound) {
  StopMatcher m({"aab"});
  EXPECT_EQ(Feed(m, {"a", "a", "a", "b", "c"}), "a");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcher, NoStopsPassesEverythingThrough) {
  StopMatcher m({});
  EXPECT_EQ(m.Push("abc"), "abc");
  EXPECT_EQ(m.Push(""), "");
  EXPECT_EQ(m.Flush(), "");
  EXPECT_FALSE(m.stopped());
  StopMatcher empty_string({""});
  EXPECT_EQ(empty_string.Push("x"), "x");
}

TEST(StopMatcher, UnfinishedPrefixIsReleasedAtFlush) {
  StopMatcher m({"Final Answer"});
  EXPECT_EQ(m.Push("x Final Ans"), "x ");
  EXPECT_EQ(m.Flush(), "Final Ans");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, NeverSplitsUtf8WhenHoldingBack) {
  // The stop starts with the last byte of "∑" (E2 88 91)? Impossible in valid UTF-8 text, but a
  // stop "∑∑" must hold back the whole first "∑" rather than part of it.
  StopMatcher m({"∑∑"});
  const std::string out = m.Push("a∑");
  EXPECT_EQ(out, "a");
  EXPECT_EQ(m.Push("b"), "∑b");
  StopMatcher m2({"π = 3"});
  EXPECT_EQ(Feed(m2, {"so π", " = 3.14"}), "so ");
}

}  // namespace
}  // namespace llemma
