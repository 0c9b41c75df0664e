// EngineBackend: the built-in engine as an evaluation backend. A Model and
// Tokenizer loaded in this process generate every request: each problem's
// prompt is prefilled once, its k samples fork from it and decode as a
// batch, and several problems are in flight at once (GenerateMany), so the
// weights are read once per step for up to `parallel` sequences.
//
//   EngineOptions o;
//   o.parallel = 32;                                       // sequences decoding together
//   StatusOr<std::unique_ptr<EngineBackend>> b = EngineBackend::Create(*model, *tok, "llemma 7b",
//   o); Status s = (*b)->Run(requests, on_done);
//
// Prompts follow the LLEMMA harness (spec §2.0): the prompt is tokenized
// without special tokens, truncated to its last max_length - max_tokens
// tokens (max_length = the model's max_position_embeddings, or --ctx when
// smaller), decoded back to text and re-tokenized with BOS, as vLLM receives
// it. Sample j of a request is drawn with seed + j, so it is the same text
// whether it was drawn alone, in a batch, or in a resumed run. Greedy
// requests (temperature 0) decode once and copy the result to all n samples.
//
// Owned by its caller; the model and tokenizer must outlive it. Not
// thread-safe (one Run or Score at a time, as Backend requires); on_done is
// called on the caller's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llemma/core/status.h"
#include "llemma/eval/backend.h"
#include "llemma/model/context.h"
#include "llemma/model/model.h"
#include "llemma/tokenizer/tokenizer.h"

namespace llemma::eval {

struct EngineOptions {
  int n_threads = 0;      // 0 = one per core
  int parallel = 16;      // sequences decoding together (at least the largest request's n)
  int64_t n_ctx = 0;      // 0 = the model's max_position_embeddings; else a smaller cap
  int64_t n_batch = 256;  // prompt tokens per forward chunk
  DType kv_type = DType::kF16;  // of the KV caches
};

class EngineBackend : public Backend {
 public:
  static StatusOr<std::unique_ptr<EngineBackend>> Create(const Model& model, const Tokenizer& tok,
                                                         std::string description,
                                                         const EngineOptions& opts);

  // "llemma <description>"
  std::string Describe() const override { return "llemma " + description_; }

  Status Run(std::span<const GenRequest> requests, const OnRequestDone& on_done) override;

  // log p(continuation | BOS + context), summed over the continuation's
  // tokens: those of tokenize(context + continuation) past its common prefix
  // with tokenize(context). A sequence longer than max_length keeps its last
  // max_length tokens (the context is cut first).
  StatusOr<LogLikelihood> Score(std::string_view context, std::string_view continuation) override;

  // The prompt's tokens as the model sees them (BOS first), for a request of
  // up to max_tokens new tokens. Errors when max_tokens leaves no room.
  StatusOr<std::vector<int32_t>> PromptTokens(std::string_view prompt, int64_t max_tokens) const;

  int64_t max_length() const { return max_length_; }

 private:
  EngineBackend(const Model& model, const Tokenizer& tok, std::string description,
                const EngineOptions& opts);

  const Model& model_;
  const Tokenizer& tok_;
  std::string description_;
  EngineOptions opts_;
  int64_t max_length_ = 0;
  std::unique_ptr<Context> gen_ctx_;    // kept between Run calls while it is large enough
  std::unique_ptr<Context> score_ctx_;  // made on the first Score
};

}  // namespace llemma::eval
