// Engine benchmark with llama-bench's definitions: ppN = prompt processing of
// N tokens in one batched pass from an empty context; tgN = generating N
// tokens one at a time from an empty context. Each test runs once to warm up,
// then `repetitions` times; speeds are mean ± standard deviation of tokens/s.
//
//   BenchOptions o;  o.prompt_tokens = 512;  o.gen_tokens = 128;
//   StatusOr<std::vector<BenchResult>> r = RunBench(model, o);
#pragma once

#include <string>
#include <vector>

#include "llemma/core/status.h"
#include "llemma/model/model.h"

namespace llemma {

struct BenchOptions {
  int64_t prompt_tokens = 512;  // 0 skips the pp test
  int64_t gen_tokens = 128;     // 0 skips the tg test
  int repetitions = 5;
  int n_threads = 0;
  int batch = 1;                // > 1 adds "tgN@bB": B sequences decoding together (aggregate t/s)
  // Tokens already in the context before each test (llama-bench's -d): the
  // tests then run at positions depth.. ; the B sequences of the batched test
  // fork from this shared prefix, as the k samples of majority voting do.
  int64_t depth = 0;
  DType kv_type = DType::kF16;  // of the KV cache
};

struct BenchResult {
  std::string test;              // "pp512", "tg128", "tg128@b16", "tg32@b16 @ d512"
  int64_t n_prompt = 0, n_gen = 0, n_batch = 1, n_depth = 0;
  std::vector<double> samples_ts;  // tokens/s of each repetition
  double avg_ts = 0, stddev_ts = 0;
};

StatusOr<std::vector<BenchResult>> RunBench(const Model& model, const BenchOptions& opts);

// Bytes read from memory per token when one sequence generates n_gen tokens
// after `depth` tokens of context: every matrix except the embedding table
// (of which one row is read, unless it doubles as the output matrix), plus
// the keys and values of every position attended to, averaged over the
// positions depth .. depth + n_gen − 1 (position p reads p + 1 of them).
// Divided into a bandwidth, it bounds decoding speed.
double DecodeBytesPerToken(const Model& model, int64_t depth, int64_t n_gen, DType kv_type);

}  // namespace llemma
