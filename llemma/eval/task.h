// Task: one benchmark of the LLEMMA suite (gsm8k, math, ocw, mmlu_stem, sat,
// math500, math_ppl, and the tool-use tasks), registered by name. A task
// loads its problems from the bundled data (data/benchmarks, data/prompts),
// assembles each prompt byte for byte as the LLEMMA harness does, says how to
// decode (stop strings, max tokens, the paper's maj@k settings) and scores
// completions with the native checker (llemma/math).
//
//   StatusOr<std::vector<std::unique_ptr<Task>>> tasks = MakeTasks("gsm8k,math:algebra", data_dir);
//   StatusOr<std::vector<Problem>> problems = (*tasks)[0]->Load();
//   math::ItemScore s = (*tasks)[0]->Score(problems->at(0), math::Mode::kDefault, completions);
//
// Task names: "gsm8k", "math" (all 7 subjects), "math:algebra" (one subject;
// the part after ':' is the task's option), and "TASK@FILE" for a user's own
// JSONL file read with TASK's prompt and scoring (field names mapped with
// --fields "question=q,answer=a").
//
// A Task is immutable after construction and thread-safe (Score may be
// called from several threads at once).
//
// Adding a task: one file in llemma/eval/tasks/ defining a factory
// `StatusOr<std::unique_ptr<Task>> MakeXxxTask(const TaskArgs&)`, declared in
// tasks/registry.h, plus one line in the kRegistry table in
// tasks/registry.cc. tasks/common.h has the shared parts (JSONL reading with
// field mapping, prompt files, a base class for "one JSONL line = one
// problem" tasks).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llemma/core/status.h"
#include "llemma/math/check.h"

namespace llemma::eval {

struct Problem {
  std::string id;  // stable key within the task (dataset id or line index), used by the store
  std::string
      subject;         // reporting group ("algebra", "abstract_algebra"); "" when the task has none
  std::string prompt;  // the fully assembled prompt text (no BOS; the backend adds it)
  std::string
      reference;  // the dataset field the scorer reads (solution, "#### N" answer, letter, ...)
  std::string continuation;  // perplexity tasks only: the text whose likelihood is measured
};

// Decoding settings of one preset.
struct Sampling {
  int k = 1;
  double temperature = 0.0;
  double top_p = 1.0;
};

struct TaskSpec {
  std::string name;                        // registered name, e.g. "gsm8k", "math", "math:algebra"
  std::string description;                 // one line for `llemma eval --list-tasks`
  math::Task scoring = math::Task::kMath;  // answer extraction and comparison rules
  std::vector<std::string> stop;           // stop strings (cut from completions)
  int64_t max_tokens = 1024;               // max new tokens (the harness' max_gen_toks)
  Sampling paper;                          // --preset paper (the LLEMMA configs/majk.json values)
  std::string prompt_file;  // the few-shot prompt file under data/prompts ("" if none)
  // The LLEMMA task(s) this one reproduces, the key of the paper's numbers
  // in the report ("gsm8k", "math", "ocw", "mmlu_stem", "sat"; "" = none).
  std::string paper_key;
  bool perplexity = false;  // scored by log-likelihood of Problem::continuation, not generated
  bool tool_use = false;    // completions are programs run in the sandbox
};

// What a task factory gets.
struct TaskArgs {
  std::string name;      // as the user wrote it ("math:algebra", "gsm8k@mine.jsonl")
  std::string data_dir;  // folder holding benchmarks/ and prompts/
  std::string option;    // the part after ':' (a subject), "" if none
  std::string
      file;  // the part after '@': the user's JSONL in place of the bundled file, "" if none
  std::string
      fields;  // field mapping "question=q,answer=ans" for `file` ("" = the task's own names)
};

class Task {
 public:
  virtual ~Task() = default;
  virtual const TaskSpec& spec() const = 0;

  // Problems in a stable order (the same on every call and machine). Errors
  // name the file and line.
  virtual StatusOr<std::vector<Problem>> Load() const = 0;

  // Acquires what Score needs beyond the data (tool-use tasks: the shared
  // sandbox); the runner calls it before generating and reports before
  // scoring, so a sandbox that cannot start stops the task with its reason
  // instead of failing every sample.
  virtual Status Prepare() const { return Status::Ok(); }

  // Scores the k completions of one problem (k = 1: greedy). The default
  // runs math::ScoreItem with spec().scoring; tool-use and perplexity tasks
  // override it.
  virtual math::ItemScore Score(const Problem& p, math::Mode mode,
                                const std::vector<std::string>& completions,
                                const math::CheckOptions& options = {}) const {
    return math::ScoreItem(spec().scoring, mode, p.reference, completions, options);
  }

  // Whether each completion alone is correct, given Score()'s result over
  // all of them (`all`). The default scores each completion that has an
  // answer on its own; a task whose scoring is costly (programs run in a
  // sandbox) may override it to reuse what Score() found.
  virtual std::vector<bool> SampleCorrect(const Problem& p, math::Mode mode,
                                          const std::vector<std::string>& completions,
                                          const math::ItemScore& all,
                                          const math::CheckOptions& options = {}) const {
    std::vector<bool> out(completions.size(), false);
    if (completions.size() == 1) {
      out[0] = all.vote.acc;
      return out;
    }
    for (size_t i = 0; i < completions.size(); ++i) {
      if (i < all.answers.size() && all.answers[i]) {
        out[i] = Score(p, mode, {completions[i]}, options).vote.acc;
      }
    }
    return out;
  }
};

// Comma-separated task names → tasks. Unknown names give an error listing
// the known ones. `fields` applies to every TASK@FILE name.
StatusOr<std::vector<std::unique_ptr<Task>>> MakeTasks(std::string_view names,
                                                       const std::string& data_dir,
                                                       const std::string& fields = "");
// One task by name (as MakeTasks).
StatusOr<std::unique_ptr<Task>> MakeTask(std::string_view name, const std::string& data_dir,
                                         const std::string& fields = "");
// Registered names with their one-line descriptions, for --list-tasks.
std::vector<std::pair<std::string, std::string>> ListTasks();
// LLEMMA_DATA_DIR if set, else the data/ folder of the source tree.
std::string DefaultDataDir();
// Whether the tool-use tasks may run programs without bubblewrap where it
// cannot start (--unsafe-no-sandbox: plain processes with rlimits only). Set
// before the first tool-use task scores; the process-wide sandbox starts once.
void AllowUnsafeToolSandbox(bool allow);

}  // namespace llemma::eval
