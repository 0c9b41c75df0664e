// Backend: where an evaluation's completions come from. Two implementations:
// the built-in engine (engine_backend.h: a Model loaded in this process, the
// k samples of a prompt sharing one prefill and decoding as a batch) and any
// OpenAI-compatible /v1/completions endpoint (openai_backend.h: vLLM, the
// llama.cpp server, ...). The harness hands a backend many requests at once
// and receives each one's samples as soon as they are done, so a backend is
// free to batch, interleave or send them concurrently.
//
//   std::vector<GenRequest> reqs = ...;            // one per problem (n samples each)
//   Status s = backend->Run(reqs, [&](const GenRequest& r, std::vector<GenSample> out) {
//     return store.AddSamples(r.id, out);         // called once per request, never concurrently
//   });
//
// A Backend is used by one caller at a time (Run is not reentrant); its
// on_done callbacks are serialized.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llemma/core/status.h"

namespace llemma::eval {

struct SamplingSpec {
  int n = 1;                      // samples wanted in this request
  double temperature = 0.0;       // 0 = greedy
  double top_p = 1.0;             // 1 = off
  int64_t max_tokens = 1024;      // new tokens per sample
  std::vector<std::string> stop;  // stop strings; cut from the returned text
  // Sample j of the problem (j = first_sample .. first_sample + n - 1) is
  // drawn with seed + j, so a resumed run regenerates exactly the samples a
  // killed one had not finished, and the built-in engine gives the same text
  // for sample j whether it was drawn alone or in a batch.
  uint64_t seed = 0;
  int first_sample = 0;
};

struct GenRequest {
  std::string id;      // opaque to the backend (the harness' problem key)
  std::string prompt;  // text; the backend prepends BOS the way the model expects
  SamplingSpec sampling;
};

struct GenSample {
  int index = 0;                // sample index within the problem (first_sample + i)
  std::string text;             // the completion, without the stop string
  std::string finish_reason;    // "stop", "eos" or "length" (tool loops: also "rounds")
  int64_t n_prompt_tokens = 0;  // as the backend tokenized the prompt (0 if unknown)
  int64_t n_tokens = 0;         // generated tokens (0 if unknown)
  double seconds = 0.0;      // wall time of the request this sample came in, divided by its samples
  std::string stop_matched;  // the stop string that ended it ("" if none or unknown)
};

// Log-likelihood of a continuation given a context (for perplexity tasks).
struct LogLikelihood {
  double logprob = 0.0;  // sum over the continuation's tokens, natural log
  int64_t n_tokens = 0;  // tokens of the continuation that were scored
};

using OnRequestDone = std::function<Status(const GenRequest&, std::vector<GenSample>)>;

class Backend {
 public:
  virtual ~Backend() = default;

  // One line naming the backend and model, stored with the run
  // ("llemma /models/llemma_7b bf16", "openai http://host:8000/v1 model=llemma_7b").
  virtual std::string Describe() const = 0;

  // Generates every request and calls on_done once per request as it
  // completes (in any order). A non-OK status from on_done stops the run and
  // is returned. A request that fails permanently (after the backend's own
  // retries) stops the run with an error naming it; requests already
  // reported stay reported.
  virtual Status Run(std::span<const GenRequest> requests, const OnRequestDone& on_done) = 0;

  // Scores `continuation` after `context` (BOS prepended to the context).
  // Backends that cannot score return kUnimplemented.
  virtual StatusOr<LogLikelihood> Score(std::string_view context, std::string_view continuation) {
    return UnimplementedError("this backend cannot score log-likelihoods");
  }
};

}  // namespace llemma::eval
