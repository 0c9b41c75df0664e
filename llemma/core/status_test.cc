#include "llemma/core/status.h"

#include <gtest/gtest.h>

namespace llemma {
namespace {

StatusOr<int> ParsePositive(int v) {
  if (v <= 0) return InvalidArgumentError("value must be positive, got " + std::to_string(v));
  return v;
}

StatusOr<int> Doubled(int v) {
  LLEMMA_ASSIGN_OR_RETURN(int x, ParsePositive(v));
  return 2 * x;
}

Status Check(int v) {
  LLEMMA_RETURN_IF_ERROR(ParsePositive(v).status());
  return Status::Ok();
}

TEST(Status, OkStatusPrintsOk) {
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(Status::Ok().ToString(), "OK");
}

TEST(Status, ErrorCarriesCodeAndMessage) {
  Status s = NotFoundError("config.json: no such file");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "not found: config.json: no such file");
  EXPECT_EQ(s.WithContext("loading").message(), "loading: config.json: no such file");
}

TEST(StatusOr, AssignOrReturnPropagatesErrorsAndValues) {
  EXPECT_EQ(*Doubled(21), 42);
  StatusOr<int> bad = Doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Check(0).ok());
  EXPECT_TRUE(Check(3).ok());
}

TEST(CheckDeathTest, FailedCheckAbortsWithLocation) {
  EXPECT_DEATH(LLEMMA_CHECK_EQ(1 + 1, 3) << "math", "status_test.cc:.*CHECK failed");
}

}  // namespace
}  // namespace llemma
