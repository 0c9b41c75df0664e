#include "llemma/eval/tasks/registry.h"

#include <cstdlib>

namespace llemma::eval {

namespace {
// One line per task.
constexpr RegisteredTask kRegistry[] = {
    {"gsm8k", "GSM8k test (1319), 8-shot chain of thought, maj@100 in the paper", MakeGsm8kTask},
    {"math", "MATH test (5000, 7 subjects; math:<subject> for one), Minerva 4-shot, maj@256",
     MakeMathTask},
    {"ocw", "OCW Courses (272), 4-shot, maj@100", MakeOcwTask},
    {"mmlu_stem", "MMLU-STEM (3018, 18 subjects; mmlu_stem:<subject> for one), 4-shot CoT, maj@16",
     MakeMmluStemTask},
    {"sat", "SAT math, May 2023 (32), 4-shot CoT, maj@16", MakeSatTask},
    {"math500", "MATH500 (PRM800K test split of MATH), Minerva 4-shot", MakeMath500Task},
    {"math_ppl", "perplexity of MATH reference solutions (bytes-weighted, as hendrycks_math_ppl)",
     MakeMathPplTask},
#ifdef LLEMMA_HAVE_AGENT
    {"gsm8k_python",
     "GSM8k test (1319), 8-shot PAL programs run in the sandbox, greedy in the paper",
     MakeGsm8kPythonTask},
    {"math_python",
     "MATH test (5000; math_python:<subject> for one), 5-shot SymPy programs run in the sandbox, "
     "maj@16",
     MakeMathPythonTask},
#endif
};
}  // namespace

#ifndef LLEMMA_HAVE_AGENT
void AllowUnsafeToolSandbox(bool) {}  // no tool-use tasks in this build
#endif

std::span<const RegisteredTask> RegisteredTasks() { return kRegistry; }

StatusOr<std::unique_ptr<Task>> MakeTask(std::string_view name, const std::string& data_dir,
                                         const std::string& fields) {
  TaskArgs args;
  args.name = std::string(name);
  args.data_dir = data_dir;
  std::string_view base = name;
  if (const size_t at = base.find('@'); at != std::string_view::npos) {
    args.file = std::string(base.substr(at + 1));
    base = base.substr(0, at);
    if (args.file.empty()) {
      return InvalidArgumentError("task \"" + std::string(name) +
                                  "\": give a JSONL file after '@'");
    }
    args.fields = fields;
  }
  if (const size_t colon = base.find(':'); colon != std::string_view::npos) {
    args.option = std::string(base.substr(colon + 1));
    base = base.substr(0, colon);
  }
  for (const RegisteredTask& t : kRegistry) {
    if (base == t.name) return t.make(args);
  }
  std::string known;
  for (const RegisteredTask& t : kRegistry)
    known += std::string(known.empty() ? "" : ", ") + t.name;
  return InvalidArgumentError("unknown task \"" + std::string(name) + "\"; known tasks: " + known +
                              " (llemma eval --list-tasks describes them)");
}

StatusOr<std::vector<std::unique_ptr<Task>>> MakeTasks(std::string_view names,
                                                       const std::string& data_dir,
                                                       const std::string& fields) {
  std::vector<std::unique_ptr<Task>> out;
  size_t start = 0;
  while (start <= names.size()) {
    size_t end = names.find(',', start);
    if (end == std::string_view::npos) end = names.size();
    std::string_view one = names.substr(start, end - start);
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
    if (!one.empty()) {
      LLEMMA_ASSIGN_OR_RETURN(std::unique_ptr<Task> t, MakeTask(one, data_dir, fields));
      for (const auto& prev : out) {
        if (prev->spec().name == t->spec().name) {
          return InvalidArgumentError("task \"" + t->spec().name + "\" is listed twice");
        }
      }
      out.push_back(std::move(t));
    }
    start = end + 1;
  }
  if (out.empty()) return InvalidArgumentError("no task given; e.g. --tasks gsm8k,math");
  return out;
}

std::vector<std::pair<std::string, std::string>> ListTasks() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const RegisteredTask& t : kRegistry) out.emplace_back(t.name, t.description);
  return out;
}

std::string DefaultDataDir() {
  if (const char* env = std::getenv("LLEMMA_DATA_DIR"); env != nullptr && *env != '\0') return env;
  return LLEMMA_DEFAULT_DATA_DIR;
}

}  // namespace llemma::eval
