// llemma solve: solve one problem with a model, streaming the transcript.
// Plain chain of thought with the Minerva prompt, or with --tools python the
// model may run ```python blocks in the sandbox.
#include "llemma/agent/solve.h"

#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "llemma/core/status.h"

namespace llemma::cli {

namespace {

struct SolveArgs {
  ModelOptions model;
  std::string problem, problem_file, tools, prompt_file = "data/prompts/minerva_math_4shot.txt";
  int rounds = 4;
  int64_t max_tokens = 1024;
  double temperature = 0, top_p = 1, timeout = 10;
  int64_t seed = 0;
  bool unsafe = false;
};

int RunSolve(const SolveArgs& a) {
  if (!a.tools.empty() && a.tools != "python")
    return ReportError(InvalidArgumentError("--tools must be python, got \"" + a.tools + "\""));
  if (a.rounds < 0) return ReportError(InvalidArgumentError("--rounds must be >= 0"));
  if (a.max_tokens <= 0) return ReportError(InvalidArgumentError("--max-tokens must be positive"));
  if (a.problem.empty() == a.problem_file.empty())
    return ReportError(
        InvalidArgumentError("give the problem as an argument or with --problem-file (not both)"));
  std::string problem = a.problem;
  if (!a.problem_file.empty()) {
    auto p = ReadTextArgument(a.problem_file);
    if (!p.ok()) return ReportError(p.status());
    problem = *p;
  }
  auto shots = ReadTextArgument(a.prompt_file);
  if (!shots.ok()) {
    return ReportError(
        shots.status().WithContext("--prompt-file (the Minerva 4-shot prompt; run from the "
                                   "repository root or pass its path)"));
  }
  std::unique_ptr<sandbox::Sandbox> sb;
  const bool tools = !a.tools.empty();
  if (tools) {
    sandbox::SandboxOptions so;
    so.allow_unsafe = a.unsafe;
    so.limits.wall_seconds = a.timeout;
    auto s = sandbox::Sandbox::Create(so);
    if (!s.ok()) return ReportError(s.status());
    sb = std::move(*s);
    if (!sb->isolated())
      std::cerr << "llemma: warning: running model-written code WITHOUT isolation\n";
  }
  auto lm = LoadModelAndTokenizer(a.model);
  if (!lm.ok()) return ReportError(lm.status());
  const Config& cfg = lm->model->config();
  ContextOptions co;
  co.n_threads = a.model.threads;
  co.kv_type = *ParseKvType(a.model.kv_type);  // checked when the model loaded
  co.n_ctx = a.model.ctx > 0 ? a.model.ctx : cfg.n_ctx_train;
  auto ctx = Context::Create(*lm->model, co);
  if (!ctx.ok()) return ReportError(ctx.status());
  SamplingParams sp;
  sp.temperature = static_cast<float>(a.temperature);
  sp.top_p = static_cast<float>(a.top_p);
  sp.seed = static_cast<uint64_t>(a.seed);
  if (Status s = ValidateSamplingParams(sp); !s.ok()) return ReportError(s);

  agent::SolveOptions o;
  o.tools = tools;
  o.max_rounds = a.rounds;
  o.max_new_tokens = a.max_tokens;
  o.limits.wall_seconds = a.timeout;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = agent::Solve(agent::ModelStep(**ctx, *lm->tokenizer, sp), sb.get(), *shots, problem, o,
                        [](std::string_view s) {
                          std::fwrite(s.data(), 1, s.size(), stdout);
                          std::fflush(stdout);
                        });
  if (!r.ok()) return ReportError(r.status());
  if (r->loop.stop_matched == agent::kMinervaStop) std::fputs(agent::kMinervaStop, stdout);
  std::fputs("\n", stdout);
  fmt::print("\nanswer: {}\n", r->answer ? *r->answer : "[no final answer]");
  std::fflush(stdout);
  fmt::print(stderr, "llemma: {} program(s) run; {:.1f} s\n", r->loop.rounds,
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return r->answer ? 0 : 2;
}

}  // namespace

void AddSolveCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<SolveArgs>();
  CLI::App* cmd = app.add_subcommand("solve",
                                     "Solve one problem: Minerva chain of thought, or with --tools "
                                     "python, running the model's code");
  AddModelOptions(cmd, &a->model);
  cmd->add_option("problem", a->problem, "the problem text");
  cmd->add_option("--problem-file", a->problem_file, "read the problem from a file (- = stdin)");
  cmd->add_option("--tools", a->tools,
                  "python: run ```python blocks in the sandbox and show their output");
  cmd->add_option("--rounds", a->rounds, "programs run at most (4)");
  cmd->add_option("-n,--max-tokens", a->max_tokens, "new tokens over the whole transcript (1024)");
  cmd->add_option("--prompt-file", a->prompt_file,
                  "few-shot prompt (data/prompts/minerva_math_4shot.txt)");
  cmd->add_option("--temperature", a->temperature, "0 = greedy (default)");
  cmd->add_option("--top-p", a->top_p, "nucleus sampling (1 = off)");
  cmd->add_option("--seed", a->seed, "random seed (0)");
  cmd->add_option("--timeout", a->timeout, "wall-clock seconds per program (10)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--unsafe-no-sandbox", a->unsafe,
                "run programs without isolation when bubblewrap is unavailable");
  cmd->callback([a, exit_code] { *exit_code = RunSolve(*a); });
}

}  // namespace llemma::cli
