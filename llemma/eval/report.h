// Report: accuracy tables from a results Store, per task and subject, with
// the LLEMMA paper's numbers beside ours, as markdown, JSON or CSV. Built
// from the stored completions alone, so a run is reported again (or while it
// still runs, or with another checker mode) without regenerating anything:
// verdicts missing for the chosen checker mode are computed and stored.
//
//   StatusOr<Report> r = BuildReport(store, {.mode = math::Mode::kCompatLlemma});
//   std::cout << RenderMarkdown(*r);
//
// Metrics (fractions in the structs, percent in the renderings):
//   maj@1       sample 0 alone is correct (the greedy answer under --preset greedy)
//   maj@k       the majority vote over the problem's samples is correct
//   pass_rate   votes for the correct answer / samples (the harness' pass_rate)
//   invalid     samples with no extractable answer / samples
//   tok/s       generated tokens / generation wall time of the task
//   perplexity  (perplexity tasks) exp(-Σ log-likelihood / Σ UTF-8 bytes), the
//               harness' weighted_perplexity; also per token and bits per byte
// A subject's numbers are averages over its problems; a task's are
// problem-weighted averages over all its subjects (as the paper's MATH and
// MMLU-STEM totals).
//
// Stateless functions; thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "llemma/core/status.h"
#include "llemma/eval/paper_numbers.h"
#include "llemma/eval/store.h"
#include "llemma/math/check.h"

namespace llemma::eval {

struct GroupMetrics {
  std::string subject;     // "" = the whole task
  int64_t n_problems = 0;  // problems with at least one sample (or score)
  int64_t n_complete = 0;  // problems with all k samples
  int64_t n_samples = 0;
  double maj1 = 0, majk = 0, pass_rate = 0, invalid_rate = 0;
  int64_t n_tokens = 0;  // generated tokens
  // Perplexity tasks:
  double logprob = 0;
  int64_t n_scored_tokens = 0, n_bytes = 0;
  double Perplexity() const;       // per byte (weighted_perplexity)
  double TokenPerplexity() const;  // per token
  double BitsPerByte() const;
};

struct TaskReport {
  RunSettings settings;
  bool perplexity = false;
  std::string checker;  // the checker mode of these numbers
  GroupMetrics total;
  std::vector<GroupMetrics> subjects;  // empty when the task has none
  double tokens_per_second = 0;
  std::vector<PaperNumber> paper;  // the paper's numbers for this task (empty if none)
  // maj@k when k > 1, else maj@1: the number the paper's table reports.
  double Accuracy() const { return settings.k > 1 ? total.majk : total.maj1; }
};

struct Report {
  std::string db;
  std::vector<TaskReport> tasks;
};

struct ReportOptions {
  std::optional<math::Mode> mode;  // unset: each task's own checker mode (as it was run)
  std::string data_dir;            // for rebuilding tasks ("" = DefaultDataDir())
  math::CheckOptions check;
};

StatusOr<Report> BuildReport(Store& store, const ReportOptions& options = {});

std::string RenderMarkdown(const Report& r);
// {"db", "tasks": [{"task", "model", "preset", "k", "temperature", "top_p",
// "max_tokens", "seed", "tools", "checker", "n_problems", "n_complete", "n_samples",
// "accuracy", "maj1", "majk", "pass_rate", "invalid_rate", "tokens_per_second",
// "wall_seconds", "paper": {"llemma_7b": {"maj1", "majk"}, ...}, "subjects": [...]}]}
// (accuracies in percent; perplexity tasks carry "perplexity",
// "token_perplexity", "bits_per_byte" instead).
std::string RenderJson(const Report& r);
// One row per task and per subject (subject "" = the task's total).
std::string RenderCsv(const Report& r);
// "md", "json" or "csv" → the rendering; errors name --output.
StatusOr<std::string> Render(const Report& r, const std::string& format);

}  // namespace llemma::eval
