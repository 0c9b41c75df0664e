// Sandbox: runs untrusted Python programs (model-written SymPy/NumPy code)
// isolated from the host. Each worker is one bubblewrap container (no
// network, read-only /usr, a private tmpfs as the only writable place, no view
// of /home, /root or the project, its own PID namespace, a scrubbed
// environment) holding a zygote interpreter that has already imported SymPy
// and NumPy. Every run forks a fresh child from the zygote with rlimits (CPU
// seconds, address space, file size, processes) and captured, size-capped
// stdout/stderr; the wall-clock timeout kills everything the run started, and
// the run's files are wiped before the next one.
//
//   SandboxOptions o;
//   o.workers = 2;
//   StatusOr<std::unique_ptr<Sandbox>> sb = Sandbox::Create(o);
//   if (!sb.ok()) return sb.status();      // e.g. bubblewrap cannot start here
//   StatusOr<RunResult> r = (*sb)->Run("import sympy\nprint(sympy.factor('x**2-1'))");
//   if (r.ok() && r->outcome == Outcome::kExited) std::cout << r->stdout_text;
//
// Without bubblewrap Create refuses, unless options.allow_unsafe is set (then
// programs run as plain host processes with only rlimits, a temporary working
// directory and the scrubbed environment).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "llemma/core/status.h"

namespace llemma::sandbox {

// Per-run limits; 0 turns a limit off (the wall-clock timeout cannot be off).
struct Limits {
  double wall_seconds = 10.0;  // the run and everything it started is killed after this
  int64_t cpu_seconds = 10;    // RLIMIT_CPU
  int64_t memory_bytes = int64_t{2}
                         << 30;  // RLIMIT_AS (address space; the warm imports take ~0.5 GiB)
  int64_t file_bytes = int64_t{16} << 20;  // RLIMIT_FSIZE, per file written
  int64_t processes = 16;  // processes of the run at once (RLIMIT_NPROC + a watcher)
  int64_t stdout_bytes = int64_t{1} << 20;  // captured stdout at most; more is output_limit
  int64_t stderr_bytes = int64_t{64} << 10;
};

struct SandboxOptions {
  int workers = 1;  // warm zygotes, i.e. runs in parallel
  Limits limits;    // default limits of Run(code)
  std::string python = "/usr/bin/python3";
  std::string bwrap = "bwrap";              // looked up on PATH when it has no '/'
  int64_t tmpfs_bytes = int64_t{64} << 20;  // size of each worker's private /tmp
  bool allow_unsafe = false;  // run without bubblewrap when it is missing or cannot start
};

enum class Outcome {
  kExited,        // the program ended by itself; exit_code says how
  kSignaled,      // killed by a signal other than the limits below (e.g. SIGSEGV)
  kTimeout,       // wall-clock timeout
  kCpuLimit,      // RLIMIT_CPU
  kMemoryLimit,   // MemoryError under RLIMIT_AS
  kOutputLimit,   // stdout or stderr over its cap
  kFileLimit,     // a file over RLIMIT_FSIZE
  kProcessLimit,  // more processes than Limits::processes
  kWorkerLost,    // the program killed its own zygote; the worker was restarted
};
const char* OutcomeName(Outcome o);  // "exited", "timeout", "cpu_limit", ...

struct RunResult {
  Outcome outcome = Outcome::kExited;
  int exit_code = 0;        // kExited: the program's exit status
  int signal = 0;           // kSignaled (and the limits that end in a signal): the signal
  std::string stdout_text;  // captured bytes (at most Limits::stdout_bytes)
  std::string stderr_text;
  double wall_seconds = 0;
  double cpu_seconds = 0;
  bool ok() const { return outcome == Outcome::kExited && exit_code == 0; }
};

namespace internal {
class Worker;
extern const char* const kZygoteSource;
}  // namespace internal

// Owns its worker processes (killed in the destructor). Thread-safe: Run may
// be called from many threads; each call takes an idle worker (waiting for
// one) and runs alone in it.
class Sandbox {
 public:
  // Starts options.workers zygotes and waits until each has imported SymPy
  // and NumPy. FailedPrecondition when bubblewrap is missing or cannot create
  // namespaces here (and allow_unsafe is off); the message says why and how
  // to proceed.
  static StatusOr<std::unique_ptr<Sandbox>> Create(const SandboxOptions& options);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  StatusOr<RunResult> Run(std::string_view code) { return Run(code, options_.limits); }
  // An error status only when the sandbox itself fails (a worker cannot be
  // restarted); everything the program does is a RunResult.
  StatusOr<RunResult> Run(std::string_view code, const Limits& limits);

  bool isolated() const { return isolated_; }  // false in allow_unsafe mode without bubblewrap
  const SandboxOptions& options() const { return options_; }

 private:
  Sandbox() = default;
  struct Pool;
  SandboxOptions options_;
  bool isolated_ = true;
  std::unique_ptr<Pool> pool_;
};

// Why bubblewrap cannot be used here, or OK when it can (starts a trivial
// container). Cached after the first call.
Status ProbeBubblewrap(const std::string& bwrap = "bwrap");

}  // namespace llemma::sandbox
