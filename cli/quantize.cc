// llemma quantize: write a model as GGUF (F32/F16/BF16/Q8_0/Q4_0/K-quants and
// their _M mixes), streaming.
#include <fmt/core.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "llemma/core/timer.h"
#include "llemma/model/export_gguf.h"

namespace llemma::cli {

namespace {
struct QuantizeArgs {
  std::string model, type = "q8_0", out;
  int threads = 0;
};

int RunQuantize(const QuantizeArgs& a) {
  auto parsed = ParseExportType(a.type);
  if (!parsed.ok()) return ReportError(parsed.status());
  ExportOptions o = *parsed;
  o.n_threads = a.threads;
  // A terminal sees one line rewritten per tensor; a log gets a line per GiB.
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  o.progress = [tty, next = int64_t{1} << 30](const std::string& name, int64_t bytes) mutable {
    if (tty) {
      fmt::print(stderr, "\rllemma: {:>9.1f} MiB written, {:<40}", bytes / 1048576.0, name);
    } else if (bytes >= next) {
      fmt::print(stderr, "llemma: {:>9.1f} MiB written, {}\n", bytes / 1048576.0, name);
      while (next <= bytes) next += int64_t{1} << 30;
    }
  };
  const int64_t t0 = NowMicros();
  if (Status s = ExportGguf(a.model, a.out, o); !s.ok()) return ReportError(s);
  fmt::print(stderr, "{}llemma: wrote {} ({}) in {:.1f} s\n", tty ? "\n" : "", a.out, a.type, (NowMicros() - t0) / 1e6);
  return 0;
}
}  // namespace

void AddQuantizeCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand("quantize", "Convert a Hugging Face checkpoint or GGUF file to GGUF");
  cmd->add_option("-m,--model", a->model, "Hugging Face checkpoint directory or GGUF file")->required();
  cmd->add_option("--type", a->type, "f32 | f16 | bf16 | q8_0 | q4_0 | q2_k | q3_k[_s] | q3_k_m | q3_k_l | q4_k[_s] | q4_k_m | q5_k[_s] | q5_k_m | q6_k")->capture_default_str();
  cmd->add_option("-o,--out", a->out, "output .gguf file")->required();
  cmd->add_option("-t,--threads", a->threads, "threads (0 = one per core)");
  cmd->callback([a, exit_code] { *exit_code = RunQuantize(*a); });
}

}  // namespace llemma::cli
