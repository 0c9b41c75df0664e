// Sampler: picks the next token from logits through a chain of small stages,
// in the order Hugging Face and vLLM apply them:
//   temperature → top-k → top-p (nucleus) → min-p → draw.
// Temperature 0 means greedy (argmax, lowest id wins ties). The random
// generator is our own (xoshiro256**), so a seed gives the same tokens on
// every platform and library version. One Sampler per sequence; not
// thread-safe.
//
//   Sampler s({.temperature = 0.6f, .top_p = 0.95f, .seed = 1234});
//   int32_t next = s.Sample(logits);
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "llemma/core/status.h"

namespace llemma {

struct SamplingParams {
  float temperature = 0.0f;  // 0 => greedy
  int top_k = 0;             // 0 => off
  float top_p = 1.0f;        // 1 => off
  float min_p = 0.0f;        // 0 => off; keep p >= min_p * p_max
  uint64_t seed = 0;
};

// Rejects negative or non-finite temperature, top_k < 0, top_p outside (0, 1],
// min_p outside [0, 1].
Status ValidateSamplingParams(const SamplingParams& p);

// Deterministic 64-bit generator (xoshiro256**, seeded through splitmix64).
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next();
  double Uniform();  // in [0, 1), 53 random bits
 private:
  uint64_t s_[4];
};

// A token under consideration: its id, its (scaled) logit, and its
// probability once normalized.
struct Candidate {
  int32_t id;
  float logit;
  float p;
};

// One stage of the chain. Stages may reorder and drop candidates; after a
// stage that needs probabilities, `p` holds the normalized softmax.
class SamplerStage {
 public:
  virtual ~SamplerStage() = default;
  // `sorted` says whether cands are in descending logit order; stages update it.
  virtual void Apply(std::vector<Candidate>& cands, bool& sorted) = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& p);
  ~Sampler();
  Sampler(Sampler&&) noexcept;
  Sampler& operator=(Sampler&&) noexcept;

  int32_t Sample(std::span<const float> logits);

  // log softmax(logits)[id] under the unmodified logits.
  static float LogProb(std::span<const float> logits, int32_t id);
  // Index of the largest logit; the lowest index wins ties.
  static int32_t Argmax(std::span<const float> logits);

  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  Rng rng_;
  std::vector<std::unique_ptr<SamplerStage>> stages_;
  std::vector<Candidate> cands_;
};

}  // namespace llemma
