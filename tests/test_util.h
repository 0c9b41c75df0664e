// Helpers shared by the cross-module tests.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace llemma::testing {

inline std::string FixtureDir(const std::string& name) {
  return std::string(LLEMMA_TESTDATA_DIR) + "/models/" + name;
}

// Copies a fixture model directory to a fresh temporary directory to corrupt.
inline std::string CopyFixture(const std::string& name, const std::string& tag) {
  namespace fs = std::filesystem;
  const fs::path dst = fs::path(::testing::TempDir()) / ("llemma_" + tag);
  fs::remove_all(dst);
  fs::copy(FixtureDir(name), dst, fs::copy_options::recursive);
  return dst.string();
}

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs the built `llemma` binary with `args` (already shell-quoted).
CommandResult RunLlemma(const std::string& args, const std::string& stdin_text = "");

// Single-quotes a string for /bin/sh.
std::string ShellQuote(const std::string& s);

}  // namespace llemma::testing
