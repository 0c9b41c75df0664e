// llemma generate: one prompt in, the continuation streamed to stdout.
#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "llemma/generate/generator.h"

namespace llemma::cli {

namespace {
struct GenerateArgs {
  ModelOptions model;
  std::string prompt, prompt_file;
  int64_t max_tokens = 256;
  float temperature = 0.0f, top_p = 1.0f, min_p = 0.0f;
  int top_k = 0;
  int64_t seed = -1;
  std::vector<std::string> stop;
  bool no_bos = false, ignore_eos = false;
};

int RunGenerate(const GenerateArgs& a) {
  std::string prompt = a.prompt;
  if (!a.prompt_file.empty()) {
    auto text = ReadTextArgument(a.prompt_file);
    if (!text.ok()) return ReportError(text.status());
    prompt = *text;
  }
  GenerateOptions opts;
  opts.max_new_tokens = a.max_tokens;
  opts.stop = a.stop;
  opts.stop_at_eos = !a.ignore_eos;
  opts.sampling.temperature = a.temperature;
  opts.sampling.top_k = a.top_k;
  opts.sampling.top_p = a.top_p;
  opts.sampling.min_p = a.min_p;
  opts.sampling.seed = a.seed >= 0 ? static_cast<uint64_t>(a.seed)
                                   : static_cast<uint64_t>(
                                         std::chrono::steady_clock::now().time_since_epoch().count());
  if (Status s = ValidateSamplingParams(opts.sampling); !s.ok()) return ReportError(s);
  if (a.max_tokens < 0) return ReportError(InvalidArgumentError("--max-tokens must be >= 0"));

  auto lm = LoadModelAndTokenizer(a.model);
  if (!lm.ok()) return ReportError(lm.status());
  const Config& cfg = lm->model->config();
  std::vector<int32_t> ids = lm->tokenizer->Encode(prompt, /*add_bos=*/!a.no_bos);
  if (ids.empty()) return ReportError(InvalidArgumentError("the prompt is empty"));
  const int64_t n_prompt = static_cast<int64_t>(ids.size());
  if (n_prompt >= cfg.n_ctx_train && a.model.ctx == 0) {
    return ReportError(OutOfRangeError(fmt::format(
        "the prompt has {} tokens but the model's context is {} (max_position_embeddings); shorten it",
        n_prompt, cfg.n_ctx_train)));
  }
  ContextOptions co;
  co.n_threads = a.model.threads;
  co.kv_type = *ParseKvType(a.model.kv_type);  // checked when the model loaded
  co.n_ctx = a.model.ctx > 0 ? a.model.ctx : std::min(cfg.n_ctx_train, n_prompt + a.max_tokens + 1);
  auto ctx = Context::Create(*lm->model, co);
  if (!ctx.ok()) return ReportError(ctx.status());

  auto result = Generate(**ctx, *lm->tokenizer, ids, opts, [](std::string_view s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
  });
  if (!result.ok()) return ReportError(result.status());
  std::fflush(stdout);
  const GenerateResult& r = *result;
  fmt::print(stderr, "\nllemma: seed {}; prompt {} tokens in {:.2f} s ({:.2f} tok/s); "
                     "generated {} tokens in {:.2f} s ({:.2f} tok/s); finish: {}\n",
             opts.sampling.seed, r.n_prompt, r.t_prefill_us / 1e6,
             r.n_prompt / std::max(1e-9, r.t_prefill_us / 1e6), r.tokens.size(), r.t_decode_us / 1e6,
             r.n_decode / std::max(1e-9, r.t_decode_us / 1e6), FinishReasonName(r.finish));
  return 0;
}
}  // namespace

void AddGenerateCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Continue a prompt; the continuation goes to stdout");
  AddModelOptions(cmd, &a->model);
  auto* p = cmd->add_option("-p,--prompt", a->prompt, "prompt text");
  auto* pf = cmd->add_option("-f,--prompt-file", a->prompt_file, "read the prompt from a file (- = stdin)");
  p->excludes(pf);
  cmd->add_option("-n,--max-tokens", a->max_tokens, "maximum new tokens")->capture_default_str();
  cmd->add_option("--temperature", a->temperature, "sampling temperature; 0 = greedy")->capture_default_str();
  cmd->add_option("--top-k", a->top_k, "keep the k most likely tokens (0 = off)")->capture_default_str();
  cmd->add_option("--top-p", a->top_p, "nucleus sampling mass (1 = off)")->capture_default_str();
  cmd->add_option("--min-p", a->min_p, "drop tokens below min-p times the top probability (0 = off)")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "random seed (-1 = from the clock; printed on stderr)")
      ->capture_default_str();
  cmd->add_option("--stop", a->stop, "stop string (repeatable); not printed");
  cmd->add_flag("--no-bos", a->no_bos, "do not put <s> before the prompt");
  cmd->add_flag("--ignore-eos", a->ignore_eos, "keep generating past </s>");
  cmd->callback([a, exit_code, p, pf] {
    if (p->count() == 0 && pf->count() == 0) {
      *exit_code = ReportError(InvalidArgumentError("give a prompt with --prompt or --prompt-file"));
      return;
    }
    *exit_code = RunGenerate(*a);
  });
}

}  // namespace llemma::cli
