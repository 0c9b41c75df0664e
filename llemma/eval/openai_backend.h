// OpenAIBackend: completions from any OpenAI-compatible /v1/completions
// endpoint (vLLM, the llama.cpp server, text-generation-inference's OpenAI
// route, ...) over libcurl, so an evaluation runs on the serving engine a GPU
// cluster already has while tasks, answer checking and voting stay ours.
//
//   OpenAIOptions o;
//   o.base_url = "http://gpu-node:8000/v1";      // or .../v1/completions
//   StatusOr<std::unique_ptr<OpenAIBackend>> b = OpenAIBackend::Create(o);  // asks /v1/models
//   if (!b.ok()) return b.status();
//   Status s = (*b)->Run(requests, on_done);
//
// Each GenRequest becomes one POST with n, temperature, top_p, max_tokens,
// stop and seed = sampling.seed + first_sample; at most `concurrency` POSTs
// are in flight. Connection errors, timeouts, 408, 429 and 5xx are retried
// with exponential backoff and jitter (a Retry-After header is honoured);
// other 4xx answers fail the run at once with the server's own message. When
// a server returns fewer choices than asked, the rest are requested (with the
// seed of the first missing sample). Greedy requests (temperature 0) ask for
// one choice and copy it n times. Stop strings are also cut on our side, so a
// server that ignores `stop` still yields text without them.
//
// Reproducibility: the text of sample j depends on the server. vLLM honours
// per-request seeds (so a rerun of the same request gives the same samples on
// the same server build and GPU), others may ignore `seed`.
//
// Owned by its caller; Run and Score are not thread-safe (one caller at a
// time, as Backend requires). on_done is called on the caller's thread.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "llemma/core/status.h"
#include "llemma/eval/backend.h"

namespace llemma::eval {

struct OpenAIOptions {
  // "http://host:port/v1", "http://host:port/v1/completions" or "http://host:port"
  // (then "/v1" is appended). http or https.
  std::string base_url;
  // Model name sent with every request; empty = the first id GET <base>/models lists.
  std::string model;
  // Sent as "Authorization: Bearer <key>"; empty = $OPENAI_API_KEY if set, else none.
  std::string api_key;
  int concurrency = 8;                // requests in flight at most (>= 1)
  double connect_timeout_s = 10.0;    // per attempt
  double request_timeout_s = 1800.0;  // per attempt, whole transfer (long generations take a while)
  int max_retries = 6;                // retries per request after the first attempt
  double backoff_base_s = 1.0;        // delay before retry r: base * 2^r, jittered to [50%, 100%]
  double backoff_max_s = 60.0;        // cap on one computed delay
  double retry_after_max_s = 600.0;   // cap on a server's Retry-After
  bool send_seed = true;              // send "seed" (servers that reject it: set false)
};

class OpenAIBackend : public Backend {
 public:
  // Validates the options and resolves the model name (one GET <base>/models
  // when `model` is empty, with the same retries as completions).
  static StatusOr<std::unique_ptr<OpenAIBackend>> Create(const OpenAIOptions& opts);
  ~OpenAIBackend() override;

  // "openai http://host:8000/v1 model=llemma_7b"
  std::string Describe() const override;

  Status Run(std::span<const GenRequest> requests, const OnRequestDone& on_done) override;

  // POST with prompt = context + continuation, echo, logprobs = 1 and
  // max_tokens = 0 (vLLM supports this); the continuation's tokens are those
  // whose text_offset is at or past the end of the context. Servers that do
  // not return prompt log-probabilities give kUnimplemented.
  StatusOr<LogLikelihood> Score(std::string_view context, std::string_view continuation) override;

  const std::string& completions_url() const { return completions_url_; }
  const std::string& model() const { return model_; }

 private:
  explicit OpenAIBackend(const OpenAIOptions& opts) : opts_(opts) {}

  OpenAIOptions opts_;
  std::string base_url_;         // ".../v1", no trailing slash
  std::string completions_url_;  // base_url_ + "/completions"
  std::string model_;
};

}  // namespace llemma::eval
