// Always-on invariant checks. A failed CHECK is a bug in llemma, not bad input:
// it prints file:line and the condition, then aborts. Bad input is reported with
// Status (see status.h), never with CHECK.
//
//   LLEMMA_CHECK(n % 32 == 0) << "n=" << n;
//   LLEMMA_CHECK_EQ(a.size(), b.size());
#pragma once

#include <sstream>

namespace llemma::internal {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  [[noreturn]] ~CheckFailure();
  template <typename T>
  CheckFailure& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

// Lets `LLEMMA_CHECK(x) << ...` parse as one expression of type void.
struct Voidify {
  void operator&(const CheckFailure&) {}
};

}  // namespace llemma::internal

#define LLEMMA_CHECK(cond)                   \
  (cond) ? (void)0                           \
         : ::llemma::internal::Voidify() &   \
               ::llemma::internal::CheckFailure(__FILE__, __LINE__, #cond)

#define LLEMMA_CHECK_OP(a, op, b) \
  LLEMMA_CHECK((a)op(b)) << "(" << (a) << " vs " << (b) << ") "
#define LLEMMA_CHECK_EQ(a, b) LLEMMA_CHECK_OP(a, ==, b)
#define LLEMMA_CHECK_NE(a, b) LLEMMA_CHECK_OP(a, !=, b)
#define LLEMMA_CHECK_LT(a, b) LLEMMA_CHECK_OP(a, <, b)
#define LLEMMA_CHECK_LE(a, b) LLEMMA_CHECK_OP(a, <=, b)
#define LLEMMA_CHECK_GT(a, b) LLEMMA_CHECK_OP(a, >, b)
#define LLEMMA_CHECK_GE(a, b) LLEMMA_CHECK_OP(a, >=, b)
