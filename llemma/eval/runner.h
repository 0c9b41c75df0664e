// Runner: one evaluation, task by task, into a results Store. For each task
// it loads the problems, picks this shard's share (--limit, --shard), works
// out the decoding settings (--preset and overrides), checks them against
// what the store already holds, asks the backend for exactly the samples not
// stored yet, stores each request's samples in one transaction as it
// finishes, and scores every problem whose k samples are all in.
//
//   EvalOptions o;
//   o.preset = "paper";
//   StderrProgress progress;
//   Status s = RunEvaluation(backend, store, tasks, o, &progress);
//
// Killing the process at any moment loses at most the requests in flight; a
// rerun with the same settings regenerates only those. Sample j of a problem
// is drawn with seed ProblemSeed(seed, task, problem id) + j, so the same
// seed, model and preset give the same completions however the run was
// split, interrupted or batched (with the built-in engine).
//
// Stateless functions; the backend, store and progress are used from the
// calling thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llemma/core/status.h"
#include "llemma/eval/backend.h"
#include "llemma/eval/progress.h"
#include "llemma/eval/store.h"
#include "llemma/eval/task.h"
#include "llemma/math/check.h"

namespace llemma::eval {

struct EvalOptions {
  std::string preset = "greedy";  // "greedy" (maj@1) or "paper" (the task's LLEMMA settings)
  // Overrides of the preset (unset = the preset's value).
  std::optional<int> k;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> max_tokens;  // unset = the task's (1024)
  uint64_t seed = 1234;
  int64_t limit =
      0;  // > 0: the first `limit` problems of each subject (of the task when it has none)
  int shard_index = 0, shard_count = 1;  // this machine takes problems i with i % count == index
  int samples_per_request = 0;  // > 0: split a problem's k samples into requests of this many
  // Requests handed to the backend per Run call (bounds memory on big runs;
  // the backend keeps up to this many in flight).
  int requests_per_call = 256;
  math::Mode mode = math::Mode::kDefault;  // checker mode the run scores with
  math::CheckOptions check;
  std::string fields;  // --fields of TASK@FILE tasks (stored with the run)
  // --tools python: every sample of a generative task is a tool loop
  // (ToolLoopBackend around the backend; programs run in ToolSandbox()).
  // Stored with the run as "python rounds=N". "" = plain generation.
  std::string tools;
  int tool_rounds = 4;    // programs run per sample at most
  int tool_parallel = 8;  // sample loops in flight
};

// "3/8" → index 2 of 8 (1-based on the command line). Errors name --shard.
Status ParseShard(std::string_view text, int* index, int* count);

// The settings a task runs with under `o` (model = backend description;
// prompt_sha256 over all the task's problems, before --limit and --shard).
// --tools is refused for perplexity tasks and for the tool-use tasks (which
// run their own programs).
StatusOr<RunSettings> ResolveSettings(const Task& task, const std::vector<Problem>& all,
                                      const EvalOptions& o, const std::string& model);

// This shard's share of the problems after --limit (applied per subject).
std::vector<Problem> SelectProblems(const std::vector<Problem>& all, int64_t limit, int shard_index,
                                    int shard_count);

// The base seed of a problem: a 64-bit mix of the run seed, task and problem id.
uint64_t ProblemSeed(uint64_t run_seed, std::string_view task, std::string_view problem_id);

// Scores one problem's completions (by sample index, 0..n-1) with the
// task's checker: the vote over all of them and each one alone.
ProblemVerdict ScoreProblem(const Task& task, const Problem& p, math::Mode mode,
                            const std::vector<std::string>& completions,
                            const math::CheckOptions& check);

// "default" or "llemma".
std::string ModeName(math::Mode mode);

// Runs every task in turn (each to completion) and stores the results.
Status RunEvaluation(Backend& backend, Store& store,
                     const std::vector<std::unique_ptr<Task>>& tasks, const EvalOptions& o,
                     Progress* progress = nullptr);

// One task.
Status RunTask(Backend& backend, Store& store, const Task& task, const EvalOptions& o,
               Progress* progress = nullptr);

}  // namespace llemma::eval
