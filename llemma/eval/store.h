// Store: the results of one evaluation run in one SQLite file, so a run can
// be killed and resumed, split into shards on several machines and merged,
// and reported again (with another checker mode) without regenerating.
//
//   StatusOr<std::unique_ptr<Store>> st = Store::Open("run.db");
//   LLEMMA_RETURN_IF_ERROR((*st)->BeginTask(settings));   // errors if run.db holds other settings
//   LLEMMA_RETURN_IF_ERROR((*st)->AddProblems("gsm8k", problems));
//   LLEMMA_RETURN_IF_ERROR((*st)->AddSamples("gsm8k", "17", samples, wall_s));  // one transaction
//   StatusOr<std::vector<StoredSample>> all = (*st)->Samples("gsm8k");
//
// Tables: runs (settings per task), problems, samples (UNIQUE per task,
// problem and sample index) and scores (perplexity tasks). The file is in WAL
// mode with a busy timeout, so a report may read it while a run writes.
//
// Owned by its caller; not thread-safe (one thread uses a Store at a time).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "llemma/core/status.h"
#include "llemma/eval/backend.h"

struct sqlite3;

namespace llemma::eval {

// The settings one task of a run was generated with. Two runs may share a
// file (or be merged) only when these agree.
struct RunSettings {
  std::string task;
  std::string model;   // Backend::Describe()
  std::string preset;  // "greedy", "paper" or "custom" (a label; the values below decide)
  int k = 1;
  double temperature = 0.0;
  double top_p = 1.0;
  int64_t max_tokens = 1024;
  uint64_t seed = 0;
  std::string prompt_sha256;  // of all the task's assembled prompts, in order
  std::string created;        // UTC, set by the store on first use
  double wall_seconds = 0;    // generation wall time summed over all sessions
};

struct StoredProblem {
  std::string problem_id;
  std::string subject;
  std::string reference;
};

struct StoredSample {
  std::string problem_id;
  GenSample sample;
  std::string created;
  int64_t rowid = 0;
};

struct StoredScore {
  std::string problem_id;
  LogLikelihood ll;
  double seconds = 0;
};

// "settings differ" message lists the first field that differs.
std::string DescribeSettingsMismatch(const std::string& db, const RunSettings& stored,
                                     const RunSettings& wanted);

class Store {
 public:
  // Opens or creates `path`. With create = false a missing file is an error.
  static StatusOr<std::unique_ptr<Store>> Open(const std::string& path, bool create = true);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }

  // Records the task's settings, or checks them against those already stored
  // ("run.db holds gsm8k with k=1; use the same settings or a new --db").
  Status BeginTask(const RunSettings& s);
  StatusOr<std::vector<RunSettings>> Tasks();

  // Problems are stored once (repeats are ignored).
  Status AddProblems(const std::string& task, std::span<const StoredProblem> problems);
  StatusOr<std::vector<StoredProblem>> Problems(const std::string& task);

  // Stores the samples of one finished request and adds `wall_seconds` to the
  // task's wall time, in one transaction. A sample index already stored is an
  // error unless its text is identical (then it is ignored).
  Status AddSamples(const std::string& task, const std::string& problem_id,
                    std::span<const GenSample> samples, double wall_seconds = 0);
  // Sample indices already stored, per problem.
  StatusOr<std::map<std::string, std::set<int>>> SampleIndices(const std::string& task);
  // All samples of the task, by problem id then sample index.
  StatusOr<std::vector<StoredSample>> Samples(const std::string& task);

  Status AddScore(const std::string& task, const StoredScore& s, double wall_seconds = 0);
  StatusOr<std::vector<StoredScore>> Scores(const std::string& task);

  // Merges runs into `out` (created if needed): every task's settings must
  // agree across the inputs; samples are united (identical duplicates are
  // ignored, conflicting ones are an error).
  static Status Merge(const std::string& out, const std::vector<std::string>& inputs);

 private:
  Store() = default;
  Status Exec(const char* sql);
  Status Error(const char* what) const;

  sqlite3* db_ = nullptr;
  std::string path_;
};

// SHA-256 of `data` as 64 lowercase hex digits.
std::string Sha256Hex(std::string_view data);

}  // namespace llemma::eval
