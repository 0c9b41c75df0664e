// Robustness of the checker on hostile text: mutated MATH answers and
// completions, deep nesting, huge powers and factorials, invalid UTF-8, NUL
// bytes and megabyte strings go through every entry point of check.h for
// every task and mode. Nothing may throw or crash, and every check must come
// back within its deadline (the wall-clock bound is a generous one, deadline
// + 3 s, so that a slow machine does not fail the test).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "llemma/math/check.h"

namespace llemma::math {
namespace {

using std::string;
using std::vector;

constexpr Task kTasks[] = {Task::kMath, Task::kGsm8k, Task::kOcw, Task::kMmluStem, Task::kSat};
constexpr Mode kModes[] = {Mode::kDefault, Mode::kCompatLlemma};
constexpr double kDeadline = 0.5;
constexpr double kSlack = 3.0;

vector<string> SeedAnswers(size_t n) {
  std::ifstream f(LLEMMA_SOURCE_DIR "/data/benchmarks/math/test.jsonl");
  vector<string> seeds;
  string line;
  while (seeds.size() < n && std::getline(f, line)) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line);
    const string solution = j.at("solution").get<string>();
    seeds.push_back(ReferenceAnswer(Task::kMath, Mode::kDefault, solution));
    if (seeds.size() % 8 == 0) seeds.push_back(solution);  // whole solutions too, as completions
  }
  return seeds;
}

string Nest(const string& open, const string& close, int depth, const string& core) {
  string s;
  s.reserve((open.size() + close.size()) * depth + core.size());
  for (int i = 0; i < depth; ++i) s += open;
  s += core;
  for (int i = 0; i < depth; ++i) s += close;
  return s;
}

// Inputs built by hand: the shapes that break recursive parsers, exact
// arithmetic and string handling.
vector<string> HostileInputs() {
  vector<string> in = {
      "10^{10^{10}}",
      "10^{10^{10^{10}}}",
      "2^{2^{2^{2^{2^{2}}}}}",
      "(10^{100})!",
      "100000!",
      "1000000000!",
      "\\binom{10^{9}}{5 \\cdot 10^{8}}",
      "9^{9^{9}}-9^{9^{9}}",
      "\\frac{1}{0}",
      "0^{-1}",
      "\\sqrt[0]{2}",
      "\\sqrt[",
      "\\frac{",
      "\\frac{1}{",
      "}}}}{{{{",
      "\\left(\\right",
      "\\begin{pmatrix}1&2\\\\",
      "x^{x^{x^{x^{x}}}}",
      "e^{10^{6}} x",
      "1e999999",
      "0.\\overline{142857}",
      string("1\0002", 3),
      string("\\boxed{4\0}", 10),
      "\xff\xfe\xfd",
      "\\frac{\xc3}{\x80\x80}",
      "\xe2\x88\x9a" "2",  // √2
      "\\text{\xf0\x9f}",
      "The answer is \\boxed{",
      "#### ",
      "####",
      "The answer is (",
      "\\boxed{\\boxed{\\boxed{}}}",
      "",
  };
  in.push_back(Nest("{", "}", 10000, "1"));
  in.push_back(Nest("(", ")", 10000, "x"));
  in.push_back(Nest("\\frac{1}{", "}", 10000, "2"));
  in.push_back(Nest("\\sqrt{", "}", 10000, "2"));
  in.push_back(Nest("\\boxed{", "}", 10000, "3"));
  in.push_back(Nest("2^{", "}", 10000, "2"));
  in.push_back(Nest("\\left(", "\\right)", 5000, "1"));
  in.push_back(Nest("\\begin{pmatrix}", "\\end{pmatrix}", 5000, "1"));
  string product, matrix_sum;
  for (int i = 0; i < 10000; ++i) product += "\\begin{pmatrix}2&1\\\\0&1\\end{pmatrix}";
  for (int i = 0; i < 10000; ++i) matrix_sum += "\\begin{pmatrix}x&1\\\\0&1\\end{pmatrix}+";
  in.push_back(product);
  in.push_back(product.substr(0, product.size() / 10000 * 40));  // 40 products: exponential if expanded
  in.push_back(matrix_sum + "\\begin{pmatrix}1&1\\\\1&1\\end{pmatrix}");
  in.push_back(string(10000, '{'));
  in.push_back(string(10000, '}'));
  in.push_back(string(10000, '^'));
  in.push_back(string(10000, '-') + "1");
  in.push_back(string(1 << 20, '1'));
  in.push_back("\\boxed{" + string(1 << 20, '9') + "}");
  in.push_back("The answer is " + string(1 << 20, 'x') + ".");
  string mixed;
  while (mixed.size() < (1 << 20)) mixed += "$\\frac{1}{2}$ and \\boxed{3} is #### 4 (B) ";
  in.push_back(mixed);
  string sum;
  while (sum.size() < (1 << 20)) sum += "x+";
  in.push_back(sum + "1");
  return in;
}

string Mutate(const string& seed, std::mt19937_64& rng) {
  static const char* const kInserts[] = {"{",   "}",        "\\frac", "^",     "\\sqrt[", "\\boxed{", "\\left(",
                                         "$",   "\\text{", "\\\\",   "&",     "!",       "10^{10^{10}}", "\xff",
                                         "\\", "\\right)", "=",      ",",     "\\pm",    "\\infty"};
  string s = seed;
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    const size_t at = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 5) {
      case 0:  // flip a byte
        if (!s.empty()) s[at % s.size()] = static_cast<char>(rng() & 0xff);
        break;
      case 1:  // delete a byte
        if (!s.empty()) s.erase(at % s.size(), 1);
        break;
      case 2:
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), '\0');
        break;
      default:
        s.insert(at, kInserts[rng() % std::size(kInserts)]);
        break;
    }
  }
  return s;
}

TEST(Fuzz, EveryEntryPointSurvivesHostileInputWithinItsDeadline) {
  const vector<string> seeds = SeedAnswers(600);
  ASSERT_GE(seeds.size(), 600u);
  std::mt19937_64 rng(20240601);
  vector<string> inputs = HostileInputs();
  for (int i = 0; i < 3000; ++i) inputs.push_back(Mutate(seeds[rng() % seeds.size()], rng));
  const size_t hostile = HostileInputs().size();

  CheckOptions options;
  options.deadline_seconds = kDeadline;
  std::atomic<size_t> next{0};
  std::atomic<long> checks{0};
  std::mutex mu;
  vector<string> failures;
  auto fail = [&](const string& what) {
    std::lock_guard<std::mutex> lock(mu);
    failures.push_back(what);
  };
  auto timed_judge = [&](Task task, Mode mode, const string& ref, const string& answer, size_t i) {
    const auto start = std::chrono::steady_clock::now();
    (void)Judge(task, mode, ref, answer, options);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++checks;
    if (s > kDeadline + kSlack)
      fail("input " + std::to_string(i) + ": Judge took " + std::to_string(s) + " s (task " +
           string(TaskName(task)) + ")");
  };
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < inputs.size();) {
      const string& in = inputs[i];
      const string& seed = seeds[i % seeds.size()];
      try {
        for (Task task : kTasks) {
          for (Mode mode : kModes) {
            const auto answer = ExtractAnswer(task, mode, in);
            const string ref = ReferenceAnswer(task, mode, in);
            if (answer) timed_judge(task, mode, ReferenceAnswer(task, mode, seed), *answer, i);
            timed_judge(task, mode, ref, seed, i);
            timed_judge(task, mode, ref, in, i);
          }
        }
        if (i % 5 == 0 || i < hostile) {
          const auto start = std::chrono::steady_clock::now();
          const ItemScore s = ScoreItem(Task::kMath, Mode::kDefault, seed, {in, seed, in}, options);
          const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          if (s.answers.size() != 3) fail("input " + std::to_string(i) + ": ScoreItem lost answers");
          // Up to one check per pair of completions and one per completion.
          if (took > 6 * kDeadline + kSlack)
            fail("input " + std::to_string(i) + ": ScoreItem took " + std::to_string(took) + " s");
        }
        (void)ExtractFreeform(in);
      } catch (const std::exception& e) {
        fail("input " + std::to_string(i) + " threw: " + e.what());
      } catch (...) {
        fail("input " + std::to_string(i) + " threw a non-std exception");
      }
    }
  };
  vector<std::thread> pool;
  const unsigned n = std::max(2u, std::thread::hardware_concurrency());
  for (unsigned t = 0; t < n; ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();
  std::printf("[fuzz] %zu inputs, %ld timed checks\n", inputs.size(), checks.load());
  for (size_t k = 0; k < failures.size() && k < 20; ++k) ADD_FAILURE() << failures[k];
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures";
}

}  // namespace
}  // namespace llemma::math
