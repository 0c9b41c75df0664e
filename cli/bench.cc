// llemma bench: prompt-processing and generation speed with llama-bench's
// definitions, plus the memory-bandwidth bound for decoding.
#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "llemma/backend/cpu/membw.h"
#include "llemma/backend/cpu/ops.h"
#include "llemma/generate/bench.h"

namespace llemma::cli {

namespace {
struct BenchArgs {
  ModelOptions model;
  int64_t prompt_tokens = 512, gen_tokens = 128, depth = 0;
  int repetitions = 5, batch = 1;
  std::string output = "md";
  bool no_bandwidth = false;
};

int RunBenchCommand(const BenchArgs& a) {
  if (a.output != "md" && a.output != "json") {
    return ReportError(InvalidArgumentError("--output must be md or json, got '" + a.output + "'"));
  }
  auto lm = LoadModelAndTokenizer(a.model);
  if (!lm.ok()) return ReportError(lm.status());
  const Model& m = *lm->model;
  const Config& c = m.config();
  BenchOptions o;
  o.prompt_tokens = a.prompt_tokens;
  o.gen_tokens = a.gen_tokens;
  o.repetitions = a.repetitions;
  o.n_threads = a.model.threads;
  o.batch = a.batch;
  o.depth = a.depth;
  o.kv_type = *ParseKvType(a.model.kv_type);  // checked when the model loaded
  const int threads = a.model.threads > 0 ? a.model.threads : ThreadPool::HardwareThreads();
  // The probe runs before and after the tests; the bound uses the faster
  // reading (on a shared machine the bus can swing by half between them).
  auto probe = [&] {
    if (a.no_bandwidth) return 0.0;
    ThreadPool pool(threads);
    return cpu::MeasureReadBandwidth(pool);
  };
  const double bw_before = probe();
  auto results = RunBench(m, o);
  if (!results.ok()) return ReportError(results.status());
  const double bw_after = probe();
  const double bw = std::max(bw_before, bw_after);
  // Single-sequence decoding is bound by the bytes it reads per token: the
  // weights, and the KV cache of the positions attended to (--depth).
  auto bound_ts = [&](const BenchResult& r) {
    return bw * 1e9 / DecodeBytesPerToken(m, r.n_depth, r.n_gen, o.kv_type);
  };
  const std::string dtype = DTypeName(m.dtype());
  if (a.output == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const BenchResult& r : *results) {
      nlohmann::json j = {{"model", a.model.model}, {"model_type", dtype},
                          {"model_size", m.load_stats().bytes_weights}, {"model_n_params", c.ParameterCount()},
                          {"backend", "CPU"}, {"isa", cpu::KernelIsaName()}, {"n_threads", threads},
                          {"test", r.test}, {"n_prompt", r.n_prompt}, {"n_gen", r.n_gen}, {"n_batch", r.n_batch}, {"n_depth", r.n_depth},
                          {"avg_ts", r.avg_ts}, {"stddev_ts", r.stddev_ts}, {"samples_ts", r.samples_ts}};
      if (bw > 0) {
        j["mem_bandwidth_gbs"] = bw;
        j["mem_bandwidth_before_gbs"] = bw_before;
        j["mem_bandwidth_after_gbs"] = bw_after;
        if (r.n_gen > 0 && r.n_batch == 1) {
          const double bound = bound_ts(r);
          j["bound_ts"] = bound;
          j["pct_of_bound"] = 100.0 * r.avg_ts / bound;
        }
      }
      out.push_back(j);
    }
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  fmt::print("| model | type | size | params | backend | threads | test | t/s | % of bandwidth bound |\n");
  fmt::print("| --- | --- | ---: | ---: | --- | ---: | --- | ---: | ---: |\n");
  for (const BenchResult& r : *results) {
    std::string pct = "";
    if (bw > 0 && r.n_gen > 0 && r.n_batch == 1) {
      const double bound = bound_ts(r);
      pct = fmt::format("{:.0f}% of {:.2f}", 100.0 * r.avg_ts / bound, bound);
    }
    fmt::print("| {} | {} | {:.2f} GiB | {:.2f} B | CPU ({}) | {} | {} | {:.2f} ± {:.2f} | {} |\n",
               a.model.model, dtype, m.load_stats().bytes_weights / 1073741824.0,
               c.ParameterCount() / 1e9, cpu::KernelIsaName(), threads, r.test, r.avg_ts, r.stddev_ts, pct);
  }
  if (bw > 0) {
    fmt::print("\nmemory read bandwidth: {:.1f} GB/s with {} threads (before the tests {:.1f}, after {:.1f})\n", bw,
               threads, bw_before, bw_after);
  }
  return 0;
}
}  // namespace

void AddBenchCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prompt processing (ppN) and generation (tgN) speed");
  AddModelOptions(cmd, &a->model);
  cmd->add_option("-p,--prompt-tokens", a->prompt_tokens, "prompt tokens of the pp test (0 = skip)")
      ->capture_default_str();
  cmd->add_option("-n,--gen-tokens", a->gen_tokens, "generated tokens of the tg test (0 = skip)")
      ->capture_default_str();
  cmd->add_option("-r,--repetitions", a->repetitions, "timed repetitions of each test")->capture_default_str();
  cmd->add_option("-o,--output", a->output, "md | json")->capture_default_str();
  cmd->add_option("-b,--batch", a->batch, "also measure B sequences decoding together (aggregate t/s)")
      ->capture_default_str();
  cmd->add_option("-d,--depth", a->depth,
                  "tokens already in the context before each test; the --batch sequences fork from them")
      ->capture_default_str();
  cmd->add_flag("--no-bandwidth", a->no_bandwidth, "skip the memory-bandwidth probe");
  cmd->callback([a, exit_code] { *exit_code = RunBenchCommand(*a); });
}

}  // namespace llemma::cli
