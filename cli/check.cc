// llemma check: score completions, one pair, or a file of labelled pairs with
// the native answer checker.
#include <fmt/core.h>

#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "llemma/math/batch.h"
#include "llemma/math/check.h"

namespace llemma::cli {

namespace {
struct CheckArgs {
  std::string task, mode = "default", predictions, references, reference, candidate, pairs, out;
  bool have_reference = false, have_candidate = false;
  int threads = 0;
  double deadline = 2.0;
};

int RunCheck(const CheckArgs& a) {
  math::BatchOptions o;
  o.threads = a.threads;
  o.check.deadline_seconds = a.deadline;
  const auto mode = math::ParseMode(a.mode);
  if (!mode) return ReportError(InvalidArgumentError("--mode must be default or llemma, got \"" + a.mode + "\""));
  o.mode = *mode;
  if (!a.task.empty()) {
    const auto task = math::ParseTask(a.task);
    if (!task) {
      return ReportError(InvalidArgumentError("--task must be one of math, gsm8k, ocw, mmlu_stem, sat; got \"" +
                                              a.task + "\""));
    }
    o.task = *task;
  }
  const int sources = !a.predictions.empty() + !a.pairs.empty() + (a.have_reference || a.have_candidate);
  if (sources != 1) {
    return ReportError(InvalidArgumentError(
        "give exactly one of --predictions FILE (with --task), --pairs FILE, or --reference R --candidate C"));
  }
  std::ofstream file;
  if (!a.out.empty()) {
    file.open(a.out);
    if (!file) return ReportError(InvalidArgumentError("--out " + a.out + ": cannot write"));
  }
  std::ostream& out = a.out.empty() ? std::cout : file;

  if (a.have_reference || a.have_candidate) {
    if (!(a.have_reference && a.have_candidate))
      return ReportError(InvalidArgumentError("--reference and --candidate go together"));
    std::optional<std::string> ref, cand;
    math::Verdict v;
    if (!a.task.empty()) {
      ref = math::ReferenceAnswer(o.task, o.mode, a.reference);
      cand = math::ExtractAnswer(o.task, o.mode, a.candidate);
      if (!cand) cand = math::ExtractFreeform(a.candidate);
    } else {
      ref = math::ExtractFreeform(a.reference);
      cand = math::ExtractFreeform(a.candidate);
    }
    if (!ref || !cand) {
      v = {false, false, !ref ? "no answer found in the reference" : "no answer found in the candidate"};
    } else {
      v = a.task.empty() ? math::CheckEquivalent(*ref, *cand, o.check) : math::Judge(o.task, o.mode, *ref, *cand, o.check);
    }
    out << fmt::format("{}\nreference answer: {}\ncandidate answer: {}\nwhy: {}{}\n",
                       v.equivalent ? "equivalent" : "not equivalent", ref ? *ref : "(none)", cand ? *cand : "(none)",
                       v.reason, v.timed_out ? " (deadline)" : "");
    return v.equivalent ? 0 : 1;
  }
  if (!a.pairs.empty()) {
    auto s = math::CheckPairs(a.pairs, o, !a.task.empty(), out);
    if (!s.ok()) return ReportError(s.status());
    fmt::print(stderr, "llemma check: {} pairs, {} equivalent", s->pairs, s->equivalent);
    if (s->labelled > 0)
      fmt::print(stderr, ", agreement with labels {}/{} = {:.2f}%", s->agree, s->labelled, 100.0 * s->agree / s->labelled);
    fmt::print(stderr, " ({:.3f} s)\n", s->seconds);
    out << fmt::format("{{\"summary\": {}}}\n", s->ToJson());
    return 0;
  }
  if (a.task.empty()) return ReportError(InvalidArgumentError("--predictions needs --task"));
  auto s = math::ScorePredictions(a.predictions, a.references, o, out);
  if (!s.ok()) return ReportError(s.status());
  fmt::print(stderr,
             "llemma check: {} items, {} samples ({} without an answer): acc {:.2f}%, first-sample acc {:.2f}%, "
             "pass rate {:.2f}% ({:.0f} checks/s)\n",
             s->items, s->samples, s->invalid, 100 * s->acc, 100 * s->acc_first, 100 * s->pass_rate,
             s->checks_per_second);
  out << fmt::format("{{\"summary\": {}}}\n", s->ToJson());
  return 0;
}
}  // namespace

void AddCheckCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<CheckArgs>();
  CLI::App* cmd = app.add_subcommand("check", "Check answers: score completions, one pair, or labelled pairs");
  cmd->add_option("--task", a->task, "math | gsm8k | ocw | mmlu_stem | sat (extraction and comparison rules)");
  cmd->add_option("--mode,--compat", a->mode, "default (our checker) | llemma (the LLEMMA harness, quirks included)");
  cmd->add_option("--predictions", a->predictions,
                  "JSONL: {\"id\", \"completion\" | \"completions\": [...], \"reference\" (or --references)}");
  cmd->add_option("--references", a->references, "JSONL with \"id\" and \"reference\"/\"answer\"/\"solution\"");
  auto* r = cmd->add_option("--reference", a->reference, "reference answer (or a full solution)");
  auto* c = cmd->add_option("--candidate", a->candidate, "candidate answer (or a full completion)");
  cmd->add_option("--pairs", a->pairs, "JSONL with \"reference\", \"candidate\", optional \"task\" and \"label\"");
  cmd->add_option("-o,--out", a->out, "write the per-item / per-pair JSON lines here (default: stdout)");
  cmd->add_option("-t,--threads", a->threads, "threads (0 = one per core)");
  cmd->add_option("--deadline", a->deadline, "seconds allowed per check")->check(CLI::PositiveNumber);
  cmd->callback([a, r, c, exit_code]() {
    a->have_reference = r->count() > 0;
    a->have_candidate = c->count() > 0;
    *exit_code = RunCheck(*a);
  });
}

}  // namespace llemma::cli
