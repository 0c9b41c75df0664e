// A sandbox shared by the tests of one binary, started once; tests that need
// it skip (with bubblewrap's reason) where it cannot start. Test-only.
//
//   TEST(Foo, Bar) { NEED_SANDBOX(); ... sb->Run(...) ... }
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "llemma/sandbox/sandbox.h"

namespace llemma::agent {

inline sandbox::Sandbox* SharedTestSandbox() {
  static std::unique_ptr<sandbox::Sandbox> sb = [] {
    auto r = sandbox::Sandbox::Create({});
    return r.ok() ? std::move(*r) : nullptr;
  }();
  return sb.get();
}

#define NEED_SANDBOX()                                                                      \
  sandbox::Sandbox* sb = SharedTestSandbox();                                               \
  if (sb == nullptr) {                                                                      \
    GTEST_SKIP() << "bubblewrap cannot run here: " << sandbox::ProbeBubblewrap().message(); \
  }                                                                                         \
  do {                                                                                      \
  } while (0)

}  // namespace llemma::agent
