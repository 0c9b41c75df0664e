#include "llemma/eval/tasks/tool_use.h"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "llemma/agent/tool_tasks.h"
#include "llemma/eval/task.h"

namespace llemma::eval {

namespace {

std::atomic<bool> g_allow_unsafe{false};

// Answers longer than this are cut before they are stored (a program may
// print up to the sandbox's output cap).
constexpr size_t kMaxAnswerChars = 1000;

// fn(0..n-1), on up to `threads` threads (the sandbox runs one program per
// worker at a time, so more threads would only queue).
void ForEachIndex(size_t n, int threads, const std::function<void(size_t)>& fn) {
  const size_t t = std::min(n, static_cast<size_t>(std::max(1, threads)));
  if (t <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  pool.reserve(t);
  for (size_t j = 0; j < t; ++j) {
    pool.emplace_back([&] {
      for (size_t i = next++; i < n; i = next++) fn(i);
    });
  }
  for (std::thread& th : pool) th.join();
}

// What a PAL program's run answers, as ScoreGsm8kPython reads it (capped).
std::optional<std::string> PalAnswer(math::Mode mode, const sandbox::RunResult& run) {
  const std::optional<std::string_view> out = agent::PalPrintedAnswer(mode, run);
  if (!out) return std::nullopt;
  return std::string(out->substr(0, kMaxAnswerChars));
}

}  // namespace

void AllowUnsafeToolSandbox(bool allow) { g_allow_unsafe = allow; }

StatusOr<sandbox::Sandbox*> ToolSandbox() {
  // Started once, on first use; destroyed (its workers killed) at exit.
  static StatusOr<std::unique_ptr<sandbox::Sandbox>> shared = [] {
    sandbox::SandboxOptions o;
    o.workers = std::clamp(static_cast<int>(std::thread::hardware_concurrency()) / 4, 1, 4);
    o.allow_unsafe = g_allow_unsafe.load();
    return sandbox::Sandbox::Create(o);
  }();
  if (!shared.ok()) return shared.status();
  return shared->get();
}

sandbox::Limits Gsm8kPythonLimits() {
  sandbox::Limits l;
  l.wall_seconds = 10;
  l.cpu_seconds = 5;
  return l;
}

std::string Gsm8kReferenceNumber(std::string_view field) {
  for (size_t at = field.find("#### "); at != std::string_view::npos;
       at = field.find("#### ", at + 1)) {
    size_t i = at + 5;
    std::string number;
    if (i < field.size() && field[i] == '-') number += field[i++];
    size_t digits = 0;
    for (; i < field.size(); ++i) {
      const char c = field[i];
      if (c == ',') continue;
      if (c != '.' && (c < '0' || c > '9')) break;
      number += c;
      ++digits;
    }
    if (digits > 0) return number;
  }
  return std::string(agent::PyStrip(field));
}

math::ItemScore ScorePalPrograms(sandbox::Sandbox& sb, const sandbox::Limits& limits,
                                 math::Mode mode, std::string_view reference,
                                 const std::vector<std::string>& completions) {
  const size_t n = completions.size();
  math::ItemScore s;
  s.answers.resize(n);
  s.correct.assign(n, false);
  std::vector<char> correct(n, 0);  // written from several threads: not vector<bool>
  ForEachIndex(n, sb.options().workers, [&](size_t i) {
    StatusOr<sandbox::RunResult> run = sb.Run(agent::Gsm8kPythonProgram(completions[i]), limits);
    if (!run.ok()) return;  // the sandbox itself failed: no answer
    s.answers[i] = PalAnswer(mode, *run);
    correct[i] = agent::ScoreGsm8kPython(mode, reference, *run);
  });
  for (size_t i = 0; i < n; ++i) s.correct[i] = correct[i] != 0;

  math::VoteRules rules;
  rules.pass_rate_over_all_samples = false;  // as the GSM8k task: invalid samples are dropped
  if (mode == math::Mode::kCompatLlemma) {
    s.reference = std::string(agent::PyStrip(reference));
    rules.key = [](const std::string& a) {
      const std::optional<double> v = agent::PythonFloat(a);
      return v ? fmt::format("{}", *v) : a;
    };
    rules.equiv = [](const std::string& a, const std::string& b) {
      const std::optional<double> x = agent::PythonFloat(a), y = agent::PythonFloat(b);
      return x && y && *x == *y;
    };
  } else {
    s.reference = math::ReferenceAnswer(math::Task::kGsm8k, math::Mode::kDefault, reference);
    rules.equiv = [](const std::string& a, const std::string& b) {
      math::CheckOptions o;
      return math::Judge(math::Task::kGsm8k, math::Mode::kDefault, a, b, o).equivalent;
    };
  }
  s.vote = math::MajorityVote(s.answers, s.reference, rules);
  return s;
}

math::ItemScore ScoreSympyPrograms(sandbox::Sandbox& sb, math::Mode mode, std::string_view solution,
                                   const std::vector<std::string>& completions) {
  const size_t n = completions.size();
  std::vector<agent::MathPythonAnswer> runs(n);
  ForEachIndex(n, sb.options().workers, [&](size_t i) {
    const agent::MathProgram program = agent::ExtractMathProgram(completions[i]);
    StatusOr<agent::MathPythonAnswer> a = agent::RunMathProgram(sb, program.code, solution, mode);
    if (a.ok()) {
      runs[i] = std::move(*a);
    } else {  // the sandbox itself failed: the program's answer is None
      runs[i].kind = "none";
      runs[i].text = "None";
      runs[i].vote_key = mode == math::Mode::kCompatLlemma ? "None" : "";
      runs[i].error = a.status().message();
    }
  });
  math::ItemScore s;
  s.reference = math::ReferenceAnswer(math::Task::kMath, mode, solution);
  for (const agent::MathPythonAnswer& a : runs) {
    if (a.kind == "none" || a.vote_key.empty()) {
      s.answers.push_back(std::nullopt);
    } else {
      s.answers.push_back(a.vote_key.substr(0, kMaxAnswerChars));
    }
    s.correct.push_back(a.correct);
  }
  s.vote = agent::VoteMathPython(runs, solution, mode);
  return s;
}

math::ItemScore SandboxFailedScore(std::string reference, size_t n, const Status& why) {
  static std::once_flag once;
  std::call_once(once, [&] {
    std::fprintf(stderr,
                 "llemma eval: the tool-use tasks cannot run programs, so every sample counts as "
                 "failed: %s\n",
                 why.message().c_str());
  });
  math::ItemScore s;
  s.reference = std::move(reference);
  s.answers.assign(n, std::nullopt);
  s.correct.assign(n, false);
  return s;
}

}  // namespace llemma::eval
