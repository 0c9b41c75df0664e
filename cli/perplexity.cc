// llemma perplexity: token-level negative log-likelihood of a text file.
#include <fmt/core.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "llemma/core/timer.h"
#include "llemma/generate/perplexity.h"

namespace llemma::cli {

namespace {
struct PerplexityArgs {
  ModelOptions model;
  std::string file;
  int64_t window = 0, stride = 0;
  bool no_bos = false, chunks = false;
  std::string base_model;
};

int RunPerplexity(const PerplexityArgs& a) {
  auto text = ReadTextArgument(a.file);
  if (!text.ok()) return ReportError(text.status());
  auto lm = LoadModelAndTokenizer(a.model);
  if (!lm.ok()) return ReportError(lm.status());
  const Config& cfg = lm->model->config();
  const std::vector<int32_t> ids = lm->tokenizer->Encode(*text, !a.no_bos);
  const int64_t window = a.window > 0 ? a.window : std::min<int64_t>(cfg.n_ctx_train, 2048);
  ContextOptions co;
  co.n_threads = a.model.threads;
  co.kv_type = *ParseKvType(a.model.kv_type);  // checked when the model loaded
  co.n_ctx = a.model.ctx > 0 ? a.model.ctx : std::min<int64_t>(window, static_cast<int64_t>(ids.size()));
  co.n_ctx = std::max<int64_t>(co.n_ctx, 2);
  auto ctx = Context::Create(*lm->model, co);
  if (!ctx.ok()) return ReportError(ctx.status());
  const int64_t t0 = NowMicros();
  auto progress = [&](int64_t done, int64_t total) { fmt::print(stderr, "\rllemma: {}/{} tokens", done, total); };
  if (a.chunks || !a.base_model.empty()) {
    // llama-perplexity's protocol, optionally against a base model.
    std::unique_ptr<Model> base_model;
    std::unique_ptr<Context> base_ctx;
    if (!a.base_model.empty()) {
      ModelOptions bo = a.model;
      bo.model = a.base_model;
      auto b = LoadModelAndTokenizer(bo);
      if (!b.ok()) return ReportError(b.status());
      if (b->tokenizer->Encode(*text, !a.no_bos) != ids) {
        return ReportError(InvalidArgumentError("the base model tokenizes the text differently"));
      }
      base_model = std::move(b->model);
      auto bc = Context::Create(*base_model, co);
      if (!bc.ok()) return ReportError(bc.status());
      base_ctx = std::move(bc).value();
    }
    auto r = ComputeChunkedPerplexity(**ctx, ids, window, cfg.bos_id, base_ctx.get(), progress);
    if (!r.ok()) return ReportError(r.status());
    fmt::print(stderr, "\n");
    fmt::print("tokens: {}\nchunks: {} of {} tokens (second halves scored)\nscored: {}\nnll_sum: {:.6f}\n"
               "mean_nll: {:.6f}\nperplexity: {:.6f}\n",
               ids.size(), r->n_windows, window, r->n_scored, r->nll_sum, r->MeanNll(), r->Perplexity());
    if (base_ctx) {
      fmt::print("base_perplexity: {:.6f}\nmean_kl_divergence: {:.6f}\nsame_top1: {:.4f}%\n",
                 std::exp(r->base_nll_sum / r->n_scored), r->kl_sum / r->n_scored,
                 100.0 * r->n_same_top1 / r->n_scored);
    }
    fmt::print(stderr, "llemma: {:.2f} s\n", (NowMicros() - t0) / 1e6);
    return 0;
  }
  PerplexityOptions po;
  po.window = std::min<int64_t>(window, std::max<int64_t>(static_cast<int64_t>(ids.size()), 2));
  po.stride = a.stride;
  auto r = ComputePerplexity(**ctx, ids, po, progress);
  if (!r.ok()) return ReportError(r.status());
  const double secs = (NowMicros() - t0) / 1e6;
  fmt::print(stderr, "\n");
  fmt::print("tokens: {}\nscored: {}\nwindows: {} (window {}, stride {})\nnll_sum: {:.6f}\n"
             "mean_nll: {:.6f}\nperplexity: {:.6f}\n",
             ids.size(), r->n_scored, r->n_windows, po.window, po.stride > 0 ? po.stride : po.window,
             r->nll_sum, r->MeanNll(), r->Perplexity());
  fmt::print(stderr, "llemma: {:.2f} s ({:.1f} tokens/s)\n", secs, r->n_scored / std::max(secs, 1e-9));
  return 0;
}
}  // namespace

void AddPerplexityCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<PerplexityArgs>();
  CLI::App* cmd = app.add_subcommand("perplexity", "Token-level perplexity of a text file over sliding windows");
  AddModelOptions(cmd, &a->model);
  cmd->add_option("-f,--file", a->file, "text file (- = stdin)")->required();
  cmd->add_option("--window", a->window, "tokens per window (0 = min(max_position_embeddings, 2048))")
      ->capture_default_str();
  cmd->add_option("--stride", a->stride, "tokens between window starts (0 = window, no overlap)")
      ->capture_default_str();
  cmd->add_flag("--no-bos", a->no_bos, "do not put <s> before the text");
  cmd->add_flag("--chunks", a->chunks,
                "llama-perplexity's protocol: independent chunks of --window tokens, each starting with <s>, "
                "second halves scored");
  cmd->add_option("--base-model", a->base_model,
                  "also run this model on the same chunks and report top-1 agreement and KL divergence "
                  "(implies --chunks)");
  cmd->callback([a, exit_code] { *exit_code = RunPerplexity(*a); });
}

}  // namespace llemma::cli
