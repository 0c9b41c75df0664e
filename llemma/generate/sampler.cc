#include "llemma/generate/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace llemma {

Status ValidateSamplingParams(const SamplingParams& p) {
  if (!std::isfinite(p.temperature) || p.temperature < 0) {
    return InvalidArgumentError("temperature must be >= 0 (0 = greedy), got " +
                                std::to_string(p.temperature));
  }
  if (p.top_k < 0) return InvalidArgumentError("top-k must be >= 0 (0 = off)");
  if (!(p.top_p > 0 && p.top_p <= 1)) {
    return InvalidArgumentError("top-p must be in (0, 1], got " + std::to_string(p.top_p));
  }
  if (!(p.min_p >= 0 && p.min_p <= 1)) {
    return InvalidArgumentError("min-p must be in [0, 1], got " + std::to_string(p.min_p));
  }
  return Status::Ok();
}

// ---- Rng -------------------------------------------------------------------

namespace {
uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
inline uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& s : s_) s = SplitMix64(seed);
}

uint64_t Rng::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

double Rng::Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

// ---- Stages ----------------------------------------------------------------

namespace {

bool ByLogitDesc(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

// Softmax over the current candidates into p.
void Normalize(std::vector<Candidate>& c) {
  float m = -std::numeric_limits<float>::infinity();
  for (const auto& x : c) m = std::max(m, x.logit);
  double sum = 0;
  for (auto& x : c) sum += (x.p = std::exp(x.logit - m));
  const float inv = static_cast<float>(1.0 / sum);
  for (auto& x : c) x.p *= inv;
}

class TemperatureStage : public SamplerStage {
 public:
  explicit TemperatureStage(float t) : inv_(1.0f / t) {}
  void Apply(std::vector<Candidate>& c, bool&) override {
    for (auto& x : c) x.logit *= inv_;
  }

 private:
  float inv_;
};

class TopKStage : public SamplerStage {
 public:
  explicit TopKStage(int k) : k_(k) {}
  void Apply(std::vector<Candidate>& c, bool& sorted) override {
    if (static_cast<size_t>(k_) >= c.size()) return;
    std::partial_sort(c.begin(), c.begin() + k_, c.end(), ByLogitDesc);
    c.resize(k_);
    sorted = true;
  }

 private:
  int k_;
};

// Keeps the smallest set of most likely tokens whose mass reaches p (at least one).
class TopPStage : public SamplerStage {
 public:
  explicit TopPStage(float p) : p_(p) {}
  void Apply(std::vector<Candidate>& c, bool& sorted) override {
    Normalize(c);
    // Sort progressively: the nucleus is usually a small head of the vocabulary.
    size_t sorted_n = sorted ? c.size() : 0;
    double cum = 0;
    size_t i = 0;
    for (size_t want = 64;; want *= 8) {
      want = std::min(want, c.size());
      if (sorted_n < want) {
        if (want < c.size()) std::nth_element(c.begin() + sorted_n, c.begin() + want, c.end(), ByLogitDesc);
        std::sort(c.begin() + sorted_n, c.begin() + want, ByLogitDesc);
        sorted_n = want;
      }
      for (; i < sorted_n; ++i) {
        cum += c[i].p;
        if (cum >= p_) {
          c.resize(i + 1);
          sorted = true;
          return;
        }
      }
      if (sorted_n == c.size()) break;
    }
    sorted = true;  // rounding left the mass just below p: keep everything
  }

 private:
  float p_;
};

class MinPStage : public SamplerStage {
 public:
  explicit MinPStage(float min_p) : min_p_(min_p) {}
  void Apply(std::vector<Candidate>& c, bool&) override {
    Normalize(c);
    float p_max = 0;
    for (const auto& x : c) p_max = std::max(p_max, x.p);
    const float cut = min_p_ * p_max;
    c.erase(std::remove_if(c.begin(), c.end(), [cut](const Candidate& x) { return x.p < cut; }),
            c.end());
  }

 private:
  float min_p_;
};

}  // namespace

// ---- Sampler ---------------------------------------------------------------

Sampler::Sampler(const SamplingParams& p) : params_(p), rng_(p.seed) {
  if (p.temperature > 0) {
    stages_.push_back(std::make_unique<TemperatureStage>(p.temperature));
    if (p.top_k > 0) stages_.push_back(std::make_unique<TopKStage>(p.top_k));
    if (p.top_p < 1.0f) stages_.push_back(std::make_unique<TopPStage>(p.top_p));
    if (p.min_p > 0.0f) stages_.push_back(std::make_unique<MinPStage>(p.min_p));
  }
}
Sampler::~Sampler() = default;
Sampler::Sampler(Sampler&&) noexcept = default;
Sampler& Sampler::operator=(Sampler&&) noexcept = default;

int32_t Sampler::Argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = static_cast<int32_t>(i);
  }
  return best;
}

float Sampler::LogProb(std::span<const float> logits, int32_t id) {
  double m = logits[0];
  for (float v : logits) m = std::max<double>(m, v);
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - m);
  return static_cast<float>(logits[id] - m - std::log(sum));
}

int32_t Sampler::Sample(std::span<const float> logits) {
  if (params_.temperature == 0.0f || params_.top_k == 1) return Argmax(logits);
  cands_.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) cands_[i] = {static_cast<int32_t>(i), logits[i], 0.0f};
  // Masked (-inf) logits are never candidates.
  cands_.erase(std::remove_if(cands_.begin(), cands_.end(),
                              [](const Candidate& c) { return std::isinf(c.logit) && c.logit < 0; }),
               cands_.end());
  if (cands_.empty()) return Argmax(logits);
  bool sorted = false;
  for (auto& stage : stages_) stage->Apply(cands_, sorted);
  Normalize(cands_);
  const double u = rng_.Uniform();
  double cum = 0;
  for (const Candidate& c : cands_) {
    cum += c.p;
    if (u < cum) return c.id;
  }
  return cands_.back().id;  // u fell in the rounding gap at the top
}

}  // namespace llemma
