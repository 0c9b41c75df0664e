// Test helpers for the task tests: the bundled data read independently of
// the task code (plain iostreams and nlohmann::json), so prompt assembly can
// be checked against strings built here.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace llemma::eval::task_testing {

inline const std::string kData = LLEMMA_SOURCE_DIR "/data";

// A prompt file under data/prompts, byte for byte.
inline std::string PromptFile(const std::string& name) {
  std::ifstream in(kData + "/prompts/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_FALSE(ss.str().empty()) << name;
  return ss.str();
}

// Line `n` (0-based, non-empty lines) of a file under data/benchmarks, parsed.
inline nlohmann::json Line(const std::string& file, int n) {
  std::ifstream in(kData + "/benchmarks/" + file);
  std::string line;
  for (int i = 0; std::getline(in, line);) {
    if (line.empty()) continue;
    if (i++ == n) return nlohmann::json::parse(line);
  }
  ADD_FAILURE() << file << " has no line " << n;
  return nlohmann::json();
}

}  // namespace llemma::eval::task_testing
