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
// Tables: runs (the settings of each task), sessions (one per invocation
// that wrote to the file), problems, samples (UNIQUE per task, problem and
// sample index), verdicts and votes (the checker's view of the samples, per
// checker mode; recomputable from the samples) and scores (log-likelihoods
// of perplexity tasks). The file is in WAL mode with synchronous=NORMAL:
// every committed transaction survives the process being killed at any
// moment, and a report may read the file while a run writes it.
//
// Owned by its caller; not thread-safe (one thread uses a Store at a time).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llemma/core/status.h"
#include "llemma/eval/backend.h"

struct sqlite3;

namespace llemma::eval {

class Stmt;  // store.cc

// The settings one task of a run was generated with. Two runs may share a
// file (or be merged) only when the fields marked "checked" agree.
struct RunSettings {
  std::string task;           // checked (the key)
  std::string model;          // checked: Backend::Describe()
  std::string preset;         // "greedy", "paper" or "custom" (a label; not checked)
  int k = 1;                  // checked
  double temperature = 0.0;   // checked
  double top_p = 1.0;         // checked
  int64_t max_tokens = 1024;  // checked
  uint64_t seed = 0;          // checked
  std::string prompt_sha256;  // checked: of all the task's assembled prompts, in order
  std::string fields;         // checked: --fields of a TASK@FILE task ("" otherwise)
  std::string tools;          // checked: "python rounds=N" for --tools python ("" = none)
  std::string checker;        // "default" or "llemma": the mode the run scored with (not checked)
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
  int64_t session = 0;  // the session that generated it
  std::string created;  // UTC, when it was stored
  int64_t rowid = 0;
};

struct StoredScore {
  std::string problem_id;
  LogLikelihood ll;
  int64_t n_bytes = 0;  // UTF-8 bytes of the continuation
  double seconds = 0;
  int64_t session = 0;  // the session that scored it
};

// One invocation that wrote to the file.
struct StoredSession {
  int64_t id = 0;
  std::string started;  // UTC
  std::string command;
};

// The checker's verdict on one sample and on the vote over a problem's samples.
struct SampleVerdict {
  int index = 0;
  std::optional<std::string> answer;  // nullopt: no answer found
  bool correct = false;
};
struct ProblemVerdict {
  std::string problem_id;
  int n_samples = 0;  // samples the vote was over
  std::optional<std::string> elected;
  bool acc = false;
  double pass_rate = 0;
  int valid = 0;
  std::vector<SampleVerdict> samples;
};

// "run.db holds gsm8k with k=1, not k=16; ..." naming the first field that differs.
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

  // Starts a session (one invocation that writes); samples stored after it
  // carry its id. Returns the id (1, 2, ...).
  StatusOr<int64_t> BeginSession(const std::string& command);
  int64_t session() const { return session_; }
  StatusOr<std::vector<StoredSession>> Sessions();

  // Records the task's settings, or checks them against those already stored
  // ("run.db holds gsm8k with k=1; use the same settings or a new --db").
  Status BeginTask(const RunSettings& s);
  StatusOr<std::vector<RunSettings>> Tasks();
  StatusOr<std::optional<RunSettings>> Task(const std::string& task);

  // Problems are stored once, in the order given (repeats are ignored).
  Status AddProblems(const std::string& task, std::span<const StoredProblem> problems);
  StatusOr<std::vector<StoredProblem>> Problems(const std::string& task);

  // Stores the samples of one finished request and adds `wall_seconds` to the
  // task's wall time, in one transaction. A sample index already stored is an
  // error unless its text is identical (then it is ignored).
  Status AddSamples(const std::string& task, const std::string& problem_id,
                    std::span<const GenSample> samples, double wall_seconds = 0);
  // Sample indices already stored, per problem.
  StatusOr<std::map<std::string, std::set<int>>> SampleIndices(const std::string& task);
  // All samples of the task, by problem position then sample index.
  StatusOr<std::vector<StoredSample>> Samples(const std::string& task);
  // The samples of one problem, by sample index.
  StatusOr<std::vector<StoredSample>> Samples(const std::string& task,
                                              const std::string& problem_id);

  // Replaces the verdicts of these problems for `checker`, in one transaction.
  Status PutVerdicts(const std::string& task, const std::string& checker,
                     std::span<const ProblemVerdict> verdicts);
  // Stored verdicts by problem id.
  StatusOr<std::map<std::string, ProblemVerdict>> Verdicts(const std::string& task,
                                                           const std::string& checker);

  Status AddScore(const std::string& task, const StoredScore& s, double wall_seconds = 0);
  StatusOr<std::vector<StoredScore>> Scores(const std::string& task);

  // Merges runs into `out` (created if needed): every task's settings must
  // agree across the inputs; problems, samples and scores are united
  // (identical duplicates are ignored, conflicting ones are an error) and
  // wall times summed.
  static Status Merge(const std::string& out, const std::vector<std::string>& inputs);

 private:
  Store() = default;
  Status Exec(const char* sql);
  Status Error(const std::string& what) const;
  Status AddWall(const std::string& task, double seconds);
  StatusOr<std::vector<StoredSample>> ReadSamples(Stmt& q);

  sqlite3* db_ = nullptr;
  std::string path_;
  int64_t session_ = 0;
};

// SHA-256 of `data` as 64 lowercase hex digits.
std::string Sha256Hex(std::string_view data);

}  // namespace llemma::eval
