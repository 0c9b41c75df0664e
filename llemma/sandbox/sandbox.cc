#include "llemma/sandbox/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

namespace llemma::sandbox {

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kExited:
      return "exited";
    case Outcome::kSignaled:
      return "signaled";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kCpuLimit:
      return "cpu_limit";
    case Outcome::kMemoryLimit:
      return "memory_limit";
    case Outcome::kOutputLimit:
      return "output_limit";
    case Outcome::kFileLimit:
      return "file_limit";
    case Outcome::kProcessLimit:
      return "process_limit";
    case Outcome::kWorkerLost:
      return "worker_lost";
  }
  return "?";
}

namespace {

using Clock = std::chrono::steady_clock;

std::string FindExecutable(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string dir = p.substr(start, end - start);
    if (!dir.empty()) {
      std::string full = dir + "/" + name;
      if (access(full.c_str(), X_OK) == 0) return full;
    }
    start = end + 1;
  }
  return "";
}

bool IsSymlink(const char* path) {
  struct stat st;
  return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

// The environment every sandboxed process starts with (nothing inherited).
std::vector<std::string> ScrubbedEnv(const std::string& home) {
  return {"PATH=/usr/bin:/bin", "HOME=" + home,           "TMPDIR=" + home,
          "LANG=C.UTF-8",       "LC_ALL=C.UTF-8",         "PYTHONDONTWRITEBYTECODE=1",
          "PYTHONNOUSERSITE=1", "OPENBLAS_NUM_THREADS=1", "OMP_NUM_THREADS=1",
          "MKL_NUM_THREADS=1",  "MPLCONFIGDIR=" + home};
}

std::vector<std::string> BwrapArgs(const std::string& bwrap, int64_t tmpfs_bytes) {
  std::vector<std::string> a = {bwrap,           "--unshare-all", "--die-with-parent",
                                "--new-session", "--hostname",    "sandbox",
                                "--ro-bind",     "/usr",          "/usr"};
  for (const char* d : {"/bin", "/lib", "/lib32", "/lib64", "/sbin", "/libx32"}) {
    if (IsSymlink(d)) {
      std::error_code ec;
      auto target = std::filesystem::read_symlink(d, ec);
      if (!ec) a.insert(a.end(), {"--symlink", target.string(), d});
    } else if (access(d, F_OK) == 0) {
      a.insert(a.end(), {"--ro-bind", d, d});
    }
  }
  // Only what the interpreter and BLAS need from /etc: no passwd, no shadow.
  a.insert(a.end(), {"--ro-bind-try", "/etc/alternatives", "/etc/alternatives", "--ro-bind-try",
                     "/etc/ld.so.cache", "/etc/ld.so.cache", "--proc", "/proc", "--dev", "/dev",
                     "--size", std::to_string(tmpfs_bytes), "--tmpfs", "/tmp", "--remount-ro", "/",
                     "--chdir", "/tmp"});
  return a;
}

// Writes all of `data` to a socket; false when the peer is gone.
bool SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

enum class ReadStatus { kOk, kClosed, kTimeout };

ReadStatus ReadExact(int fd, char* buf, size_t n, Clock::time_point deadline) {
  size_t got = 0;
  while (got < n) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return ReadStatus::kTimeout;
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;
    ssize_t k = read(fd, buf + got, n - got);
    if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (k <= 0) return ReadStatus::kClosed;
    got += static_cast<size_t>(k);
  }
  return ReadStatus::kOk;
}

ReadStatus ReadFrame(int fd, std::string* out, Clock::time_point deadline) {
  unsigned char len[4];
  ReadStatus s = ReadExact(fd, reinterpret_cast<char*>(len), 4, deadline);
  if (s != ReadStatus::kOk) return s;
  const uint32_t n =
      (uint32_t{len[0]} << 24) | (uint32_t{len[1]} << 16) | (uint32_t{len[2]} << 8) | len[3];
  out->resize(n);
  return ReadExact(fd, out->data(), n, deadline);
}

std::string Frame(const std::string& body) {
  const auto n = static_cast<uint32_t>(body.size());
  std::string f = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                   static_cast<char>(n >> 8), static_cast<char>(n)};
  return f + body;
}

// Reads whatever is available without blocking (the zygote's stderr).
std::string DrainNonBlocking(int fd) {
  std::string s;
  char buf[4096];
  for (;;) {
    ssize_t k = read(fd, buf, sizeof buf);
    if (k <= 0) break;
    s.append(buf, static_cast<size_t>(k));
    if (s.size() > (1 << 16)) break;
  }
  return s;
}

std::string LastLine(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  size_t nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

}  // namespace

namespace internal {

// One zygote process and the socket to it. Owned by the Sandbox pool; used by
// one Run at a time.
class Worker {
 public:
  Worker(const SandboxOptions& o, std::string bwrap) : options_(o), bwrap_(std::move(bwrap)) {}
  ~Worker() { Stop(); }

  Status Start() {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      return InternalError(std::string("sandbox: socketpair: ") + std::strerror(errno));
    int errp[2];
    if (pipe2(errp, O_CLOEXEC) != 0) {
      close(sv[0]);
      close(sv[1]);
      return InternalError(std::string("sandbox: pipe: ") + std::strerror(errno));
    }
    std::string work_root = "/tmp";
    if (bwrap_.empty()) {
      char tmpl[] = "/tmp/llemma-sandbox-XXXXXX";
      if (!mkdtemp(tmpl))
        return InternalError(std::string("sandbox: mkdtemp: ") + std::strerror(errno));
      unsafe_dir_ = work_root = tmpl;
    }
    std::vector<std::string> args;
    if (!bwrap_.empty()) args = BwrapArgs(bwrap_, options_.tmpfs_bytes);
    args.insert(args.end(), {options_.python, "-I", "-c", kZygoteSource,
                             bwrap_.empty() ? "unsafe" : "isolated", work_root});
    std::vector<std::string> env = ScrubbedEnv(work_root);
    std::vector<char*> argv, envp;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    const char* exe = argv[0];
    pid_t pid = fork();
    if (pid < 0) return InternalError(std::string("sandbox: fork: ") + std::strerror(errno));
    if (pid == 0) {
      // Child: only async-signal-safe calls from here on.
      setsid();
      int devnull = open("/dev/null", O_RDWR);
      dup2(sv[1], 0);
      dup2(devnull, 1);
      dup2(errp[1], 2);
      if (!unsafe_dir_.empty() && chdir(unsafe_dir_.c_str()) != 0) _exit(127);
      execve(exe, argv.data(), envp.data());
      _exit(127);
    }
    close(sv[1]);
    close(errp[1]);
    pid_ = pid;
    sock_ = sv[0];
    err_ = errp[0];
    fcntl(err_, F_SETFL, fcntl(err_, F_GETFL) | O_NONBLOCK);
    std::string ready;
    ReadStatus s = ReadFrame(sock_, &ready, Clock::now() + std::chrono::seconds(120));
    if (s != ReadStatus::kOk) {
      // Give the process a moment to finish writing its complaint.
      for (int i = 0; i < 50; ++i) {
        int st;
        if (waitpid(pid_, &st, WNOHANG) == pid_) {
          pid_ = -1;
          break;
        }
        usleep(10000);
      }
      std::string why = LastLine(DrainNonBlocking(err_));
      Stop();
      if (why.empty())
        why = s == ReadStatus::kTimeout ? "no reply within 120 s" : "it exited at once";
      if (!bwrap_.empty()) {
        return FailedPreconditionError("sandbox: bubblewrap cannot start a container here (" + why +
                                       "); allow unprivileged user namespaces (sysctl "
                                       "kernel.unprivileged_userns_clone=1), or pass "
                                       "--unsafe-no-sandbox to run programs without isolation");
      }
      return FailedPreconditionError("sandbox: " + options_.python +
                                     " with sympy and numpy cannot start (" + why +
                                     "); install python3-sympy and python3-numpy");
    }
    return Status::Ok();
  }

  void Stop() {
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      int st;
      waitpid(pid_, &st, 0);
      pid_ = -1;
    }
    if (sock_ >= 0) close(sock_);
    if (err_ >= 0) close(err_);
    sock_ = err_ = -1;
    if (!unsafe_dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(unsafe_dir_, ec);
      unsafe_dir_.clear();
    }
  }

  // Runs one program. kWorkerLost (and a restart) when the zygote dies.
  StatusOr<RunResult> Run(std::string_view code, const Limits& l) {
    if (pid_ < 0) {
      Status s = Start();
      if (!s.ok()) return s;
    }
    nlohmann::json req = {{"wall_seconds", l.wall_seconds}, {"cpu_seconds", l.cpu_seconds},
                          {"memory_bytes", l.memory_bytes}, {"file_bytes", l.file_bytes},
                          {"processes", l.processes},       {"stdout_cap", l.stdout_bytes},
                          {"stderr_cap", l.stderr_bytes}};
    const auto t0 = Clock::now();
    std::string reply;
    ReadStatus rs = ReadStatus::kClosed;
    if (SendAll(sock_, Frame(req.dump() + "\n" + std::string(code)))) {
      // The zygote enforces the timeout itself; this is the backstop.
      const auto backstop =
          t0 + std::chrono::milliseconds(static_cast<int64_t>(l.wall_seconds * 1000) + 10000);
      rs = ReadFrame(sock_, &reply, backstop);
    }
    DrainNonBlocking(err_);
    RunResult r;
    r.wall_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (rs != ReadStatus::kOk) {
      Stop();
      r.outcome = rs == ReadStatus::kTimeout ? Outcome::kTimeout : Outcome::kWorkerLost;
      Status s = Start();
      if (!s.ok()) return s.WithContext("sandbox: restarting a worker");
      return r;
    }
    const size_t nl = reply.find('\n');
    nlohmann::json head = nlohmann::json::parse(reply.substr(0, nl), nullptr, false);
    if (nl == std::string::npos || head.is_discarded() || !head.is_object()) {
      Stop();
      return InternalError("sandbox: malformed reply from a worker");
    }
    const size_t n_out = head.value("stdout_len", size_t{0}),
                 n_err = head.value("stderr_len", size_t{0});
    if (nl + 1 + n_out + n_err != reply.size()) {
      Stop();
      return InternalError("sandbox: reply from a worker has the wrong length");
    }
    r.stdout_text = reply.substr(nl + 1, n_out);
    r.stderr_text = reply.substr(nl + 1 + n_out, n_err);
    r.exit_code = head.value("exit_code", 0);
    r.signal = head.value("signal", 0);
    r.cpu_seconds = head.value("cpu_seconds", 0.0);
    r.wall_seconds = head.value("wall_seconds", r.wall_seconds);
    const std::string verdict = head.value("verdict", std::string());
    if (verdict == "timeout") {
      r.outcome = Outcome::kTimeout;
    } else if (verdict == "processes") {
      r.outcome = Outcome::kProcessLimit;
    } else if (verdict == "stdout" || verdict == "stderr") {
      r.outcome = Outcome::kOutputLimit;
    } else if (verdict == "memory") {
      r.outcome = Outcome::kMemoryLimit;
    } else if (r.signal == SIGXCPU ||
               (r.signal == SIGKILL && l.cpu_seconds > 0 &&
                r.cpu_seconds >= static_cast<double>(l.cpu_seconds) - 0.05)) {
      r.outcome = Outcome::kCpuLimit;
    } else if (r.signal == SIGXFSZ) {
      r.outcome = Outcome::kFileLimit;
    } else if (r.signal != 0) {
      r.outcome = Outcome::kSignaled;
    } else {
      r.outcome = Outcome::kExited;
    }
    return r;
  }

 private:
  const SandboxOptions& options_;
  std::string bwrap_;  // empty: unsafe mode
  std::string unsafe_dir_;
  pid_t pid_ = -1;
  int sock_ = -1;
  int err_ = -1;
};

}  // namespace internal

struct Sandbox::Pool {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::unique_ptr<internal::Worker>> workers;
  std::vector<internal::Worker*> idle;
};

Status ProbeBubblewrap(const std::string& bwrap) {
  static std::mutex mu;
  static std::map<std::string, Status> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(bwrap); it != cache.end()) return it->second;
  std::optional<Status> cached;
  const std::string exe = FindExecutable(bwrap);
  if (exe.empty()) {
    cached = FailedPreconditionError("sandbox: bubblewrap (" + bwrap +
                                     ") not found; install it (apt-get install bubblewrap) or pass "
                                     "--unsafe-no-sandbox to run programs without isolation");
    return cache[bwrap] = *cached;
  }
  int errp[2];
  if (pipe2(errp, O_CLOEXEC) != 0) return InternalError("sandbox: pipe failed");
  std::vector<std::string> args = BwrapArgs(exe, 1 << 20);
  args.push_back("/usr/bin/true");
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  char* envp[] = {nullptr};
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(errp[1], 2);
    execve(argv[0], argv.data(), envp);
    _exit(127);
  }
  close(errp[1]);
  std::string err;
  char buf[1024];
  ssize_t k;
  while ((k = read(errp[0], buf, sizeof buf)) > 0) err.append(buf, static_cast<size_t>(k));
  close(errp[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
    cached = Status::Ok();
  } else {
    std::string why = LastLine(err);
    if (why.empty())
      why = "exit status " + std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    cached = FailedPreconditionError(
        "sandbox: bubblewrap cannot start a container here (" + why +
        "); allow unprivileged user namespaces, or pass --unsafe-no-sandbox to "
        "run programs without isolation");
  }
  return cache[bwrap] = *cached;
}

StatusOr<std::unique_ptr<Sandbox>> Sandbox::Create(const SandboxOptions& options) {
  if (options.workers < 1) return InvalidArgumentError("sandbox: workers must be at least 1");
  if (access(options.python.c_str(), X_OK) != 0)
    return FailedPreconditionError("sandbox: python " + options.python +
                                   " not found; install python3");
  std::unique_ptr<Sandbox> sb(new Sandbox());
  sb->options_ = options;
  std::string bwrap;
  Status probe = ProbeBubblewrap(options.bwrap);
  if (probe.ok()) {
    bwrap = FindExecutable(options.bwrap);
  } else if (!options.allow_unsafe) {
    return probe;
  } else {
    sb->isolated_ = false;
  }
  sb->pool_ = std::make_unique<Pool>();
  for (int i = 0; i < options.workers; ++i) {
    auto w = std::make_unique<internal::Worker>(sb->options_, bwrap);
    Status s = w->Start();
    if (!s.ok()) return s;
    sb->pool_->idle.push_back(w.get());
    sb->pool_->workers.push_back(std::move(w));
  }
  return sb;
}

Sandbox::~Sandbox() = default;

StatusOr<RunResult> Sandbox::Run(std::string_view code, const Limits& limits) {
  if (!(limits.wall_seconds > 0))
    return InvalidArgumentError("sandbox: wall_seconds must be positive");
  internal::Worker* w;
  {
    std::unique_lock<std::mutex> lock(pool_->mu);
    pool_->cv.wait(lock, [&] { return !pool_->idle.empty(); });
    w = pool_->idle.back();
    pool_->idle.pop_back();
  }
  StatusOr<RunResult> r = w->Run(code, limits);
  {
    std::lock_guard<std::mutex> lock(pool_->mu);
    pool_->idle.push_back(w);
  }
  pool_->cv.notify_one();
  return r;
}

}  // namespace llemma::sandbox
