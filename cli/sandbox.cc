// llemma sandbox: run one Python program in the sandbox (`run`), or measure
// warm-pool runs per second against cold interpreter starts (`bench`).
#include "llemma/sandbox/sandbox.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"

extern char** environ;

namespace llemma::cli {

namespace {

// Exit statuses of `llemma sandbox run` other than the program's own.
constexpr int kExitCpu = 120, kExitMemory = 121, kExitOutput = 122, kExitFile = 123,
              kExitTimeout = 124, kExitUnavailable = 125, kExitProcesses = 126, kExitLost = 127;

struct SandboxArgs {
  std::string file;
  sandbox::Limits limits;
  double memory_mb = 2048, file_mb = 16;
  bool unsafe = false;
  int runs = 200, workers = 1, cold_runs = 10;
};

StatusOr<std::unique_ptr<sandbox::Sandbox>> Open(const SandboxArgs& a, int workers) {
  sandbox::SandboxOptions o;
  o.workers = workers;
  o.limits = a.limits;
  o.limits.memory_bytes = static_cast<int64_t>(a.memory_mb * (1 << 20));
  o.limits.file_bytes = static_cast<int64_t>(a.file_mb * (1 << 20));
  o.allow_unsafe = a.unsafe;
  auto sb = sandbox::Sandbox::Create(o);
  if (sb.ok() && !(*sb)->isolated())
    std::cerr << "llemma: warning: bubblewrap unavailable; running WITHOUT isolation "
                 "(--unsafe-no-sandbox)\n";
  return sb;
}

int RunOne(const SandboxArgs& a) {
  StatusOr<std::string> code = ReadTextArgument(a.file);
  if (!code.ok()) return ReportError(code.status());
  auto sb = Open(a, 1);
  if (!sb.ok()) {
    ReportError(sb.status());
    return kExitUnavailable;
  }
  StatusOr<sandbox::RunResult> r = (*sb)->Run(*code, (*sb)->options().limits);
  if (!r.ok()) {
    ReportError(r.status());
    return kExitUnavailable;
  }
  std::cout << r->stdout_text << std::flush;
  std::cerr << r->stderr_text;
  const auto& l = (*sb)->options().limits;
  switch (r->outcome) {
    case sandbox::Outcome::kExited:
      return r->exit_code;
    case sandbox::Outcome::kSignaled:
      std::cerr << fmt::format("llemma: sandbox: program killed by signal {}\n", r->signal);
      return 128 + r->signal;
    case sandbox::Outcome::kTimeout:
      std::cerr << fmt::format("llemma: sandbox: timeout: wall-clock limit of {} s reached\n",
                               l.wall_seconds);
      return kExitTimeout;
    case sandbox::Outcome::kCpuLimit:
      std::cerr << fmt::format("llemma: sandbox: cpu_limit: {} CPU seconds used\n", l.cpu_seconds);
      return kExitCpu;
    case sandbox::Outcome::kMemoryLimit:
      std::cerr << fmt::format(
          "llemma: sandbox: memory_limit: address space limit of {} MiB reached\n", a.memory_mb);
      return kExitMemory;
    case sandbox::Outcome::kOutputLimit:
      std::cerr << fmt::format(
          "llemma: sandbox: output_limit: more than {} bytes of stdout or {} of stderr\n",
          l.stdout_bytes, l.stderr_bytes);
      return kExitOutput;
    case sandbox::Outcome::kFileLimit:
      std::cerr << fmt::format("llemma: sandbox: file_limit: a file grew past {} MiB\n", a.file_mb);
      return kExitFile;
    case sandbox::Outcome::kProcessLimit:
      std::cerr << fmt::format("llemma: sandbox: process_limit: more than {} processes\n",
                               l.processes);
      return kExitProcesses;
    case sandbox::Outcome::kWorkerLost:
      std::cerr << "llemma: sandbox: worker_lost: the program killed the sandbox's interpreter\n";
      return kExitLost;
  }
  return kExitLost;
}

constexpr const char* kTrivialSympy =
    "import sympy\nx = sympy.Symbol('x')\nprint(sympy.expand((x + 1)**2))\n";

// One cold start of the Debian interpreter running the trivial program.
bool ColdRun() {
  const char* argv[] = {"/usr/bin/python3", "-c", kTrivialSympy, nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return false;
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int Bench(const SandboxArgs& a) {
  using Clock = std::chrono::steady_clock;
  const auto t_start = Clock::now();
  auto sb = Open(a, a.workers);
  if (!sb.ok()) {
    ReportError(sb.status());
    return kExitUnavailable;
  }
  const double t_startup = std::chrono::duration<double>(Clock::now() - t_start).count();
  // Warm pool: `runs` programs spread over `workers` threads.
  std::atomic<int> next{0}, failed{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < a.workers; ++w) {
    threads.emplace_back([&] {
      while (next.fetch_add(1) < a.runs) {
        auto r = (*sb)->Run(kTrivialSympy);
        if (!r.ok() || !r->ok() || r->stdout_text != "x**2 + 2*x + 1\n") ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  const double warm_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto t1 = Clock::now();
  int cold_failed = 0;
  for (int i = 0; i < a.cold_runs; ++i) cold_failed += !ColdRun();
  const double cold_s = std::chrono::duration<double>(Clock::now() - t1).count();
  const double warm_rps = a.runs / warm_s, cold_rps = a.cold_runs / cold_s;
  fmt::print("| mode | runs | seconds | runs/s |\n|---|---|---|---|\n");
  fmt::print("| warm pool ({} worker{}, {}) | {} | {:.3f} | {:.1f} |\n", a.workers,
             a.workers == 1 ? "" : "s", (*sb)->isolated() ? "bubblewrap" : "UNSAFE, no isolation",
             a.runs, warm_s, warm_rps);
  fmt::print("| cold `python3 -c 'import sympy ...'` (no sandbox) | {} | {:.3f} | {:.1f} |\n",
             a.cold_runs, cold_s, cold_rps);
  fmt::print("\nspeed-up: {:.1f}x (pool start-up, not counted: {:.2f} s)\n", warm_rps / cold_rps,
             t_startup);
  if (failed || cold_failed) {
    std::cerr << fmt::format(
        "llemma: error: {} warm and {} cold runs did not print the expected output\n",
        failed.load(), cold_failed);
    return 1;
  }
  return 0;
}

void AddLimitOptions(CLI::App* cmd, SandboxArgs* a) {
  cmd->add_option("--timeout", a->limits.wall_seconds, "wall-clock seconds (10)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--cpu", a->limits.cpu_seconds, "CPU seconds, 0 = off (10)");
  cmd->add_option("--memory-mb", a->memory_mb, "address space in MiB, 0 = off (2048)");
  cmd->add_option("--file-mb", a->file_mb, "largest file the program may write, MiB (16)");
  cmd->add_option("--processes", a->limits.processes, "processes at once (16)");
  cmd->add_option("--stdout-bytes", a->limits.stdout_bytes, "stdout captured at most (1 MiB)");
  cmd->add_option("--stderr-bytes", a->limits.stderr_bytes, "stderr captured at most (64 KiB)");
  cmd->add_flag("--unsafe-no-sandbox", a->unsafe,
                "run without isolation when bubblewrap is unavailable (rlimits and timeout only)");
}

}  // namespace

void AddSandboxCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<SandboxArgs>();
  CLI::App* cmd =
      app.add_subcommand("sandbox", "Run untrusted Python/SymPy programs in a bubblewrap sandbox");
  cmd->require_subcommand(1);
  CLI::App* run = cmd->add_subcommand("run",
                                      "Run FILE.py (- = stdin), print its stdout; exit status: the "
                                      "program's, or 120 cpu, 121 memory, 122 output, "
                                      "123 file size, 124 timeout, 125 sandbox unavailable, 126 "
                                      "processes, 127 interpreter killed, 128+N signal N");
  run->add_option("file", a->file, "the program (- reads stdin)")->required();
  AddLimitOptions(run, a.get());
  run->callback([a, exit_code] { *exit_code = RunOne(*a); });
  CLI::App* bench = cmd->add_subcommand(
      "bench", "Runs per second of a trivial SymPy program: warm pool vs cold python3");
  bench->add_option("-n,--runs", a->runs, "warm runs (200)")->check(CLI::PositiveNumber);
  bench->add_option("--cold-runs", a->cold_runs, "cold runs (10)")->check(CLI::PositiveNumber);
  bench->add_option("-w,--workers", a->workers, "warm workers, run in parallel (1)")
      ->check(CLI::PositiveNumber);
  AddLimitOptions(bench, a.get());
  bench->callback([a, exit_code] { *exit_code = Bench(*a); });
}

}  // namespace llemma::cli
