#include "llemma/sandbox/sandbox.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace llemma::sandbox {
namespace {

// One pool for the whole suite (starting zygotes costs about a second each).
Sandbox* Shared() {
  static std::unique_ptr<Sandbox> sb;
  static std::string why;
  static bool tried = false;
  if (!tried) {
    tried = true;
    SandboxOptions o;
    o.workers = 2;
    StatusOr<std::unique_ptr<Sandbox>> r = Sandbox::Create(o);
    if (r.ok()) {
      sb = std::move(*r);
    } else {
      why = r.status().message();
    }
  }
  return sb.get();
}

#define NEED_SANDBOX()                                                             \
  Sandbox* sb = Shared();                                                          \
  if (sb == nullptr) {                                                             \
    GTEST_SKIP() << "bubblewrap cannot run here: " << ProbeBubblewrap().message(); \
  }                                                                                \
  do {                                                                             \
  } while (0)

Limits Quick() {
  Limits l;
  l.wall_seconds = 3;
  l.cpu_seconds = 2;
  return l;
}

TEST(Sandbox, RunsSympyAndCapturesStdoutAndStderr) {
  NEED_SANDBOX();
  auto r = sb->Run(
      "import sympy, sys\nx = sympy.Symbol('x')\nprint(sympy.factor(x**2 - 1))\n"
      "print('warn', file=sys.stderr)\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, Outcome::kExited);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->stdout_text, "(x - 1)*(x + 1)\n");
  EXPECT_EQ(r->stderr_text, "warn\n");
}

TEST(Sandbox, PassesTheProgramsExitStatusAndTraceback) {
  NEED_SANDBOX();
  auto r = sb->Run("import sys\nsys.exit(7)\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kExited);
  EXPECT_EQ(r->exit_code, 7);
  r = sb->Run("1/0\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 1);
  EXPECT_NE(r->stderr_text.find("ZeroDivisionError"), std::string::npos) << r->stderr_text;
}

TEST(Sandbox, InfiniteLoopIsStoppedByTheCpuLimitOrTimeout) {
  NEED_SANDBOX();
  Limits l = Quick();
  l.cpu_seconds = 1;
  auto r = sb->Run("while True:\n  pass\n", l);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kCpuLimit) << OutcomeName(r->outcome);
  l.cpu_seconds = 0;
  l.wall_seconds = 1;
  r = sb->Run("import time\nwhile True:\n  time.sleep(0.01)\n", l);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kTimeout);
  EXPECT_LT(r->wall_seconds, 5.0);
}

TEST(Sandbox, ForkBombIsContained) {
  NEED_SANDBOX();
  auto r = sb->Run("import os\nwhile True:\n  try:\n    os.fork()\n  except OSError:\n    pass\n",
                   Quick());
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->outcome, Outcome::kExited) << OutcomeName(r->outcome);
  // The worker is clean afterwards: nothing of the bomb is left in its namespace.
  r = sb->Run("import os\nprint(len([p for p in os.listdir('/proc') if p.isdigit()]))\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kExited);
  if (sb->isolated()) {
    EXPECT_EQ(r->stdout_text, "3\n");  // init, zygote, this run
  }
}

TEST(Sandbox, MemoryBombHitsTheMemoryLimit) {
  NEED_SANDBOX();
  auto r = sb->Run("x = bytearray(8 << 30)\n", Quick());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kMemoryLimit) << OutcomeName(r->outcome) << r->stderr_text;
  r = sb->Run("import numpy\nx = numpy.ones((1 << 31,))\n", Quick());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kMemoryLimit) << OutcomeName(r->outcome) << r->stderr_text;
}

TEST(Sandbox, GigabytesOfOutputHitTheOutputCap) {
  NEED_SANDBOX();
  Limits l = Quick();
  l.stdout_bytes = 1000;
  auto r = sb->Run("import sys\nwhile True:\n  sys.stdout.write('x' * 65536)\n", l);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kOutputLimit);
  EXPECT_EQ(r->stdout_text, std::string(1000, 'x'));
}

TEST(Sandbox, HostFilesAreNotVisible) {
  NEED_SANDBOX();
  if (!sb->isolated()) GTEST_SKIP() << "running without bubblewrap";
  const std::string repo = LLEMMA_SOURCE_DIR;
  const char* home = std::getenv("HOME");
  const std::string code =
      "import os\n"
      "for p in ['/etc/shadow', '/etc/passwd', '" +
      repo + "/CMakeLists.txt', '" + std::string(home ? home : "/root") +
      "', '/root', '/home']:\n"
      "  try:\n"
      "    open(p).read() if not os.path.isdir(p) else os.listdir(p)\n"
      "    print('visible', p)\n"
      "  except OSError as e:\n"
      "    print('hidden', p)\n";
  auto r = sb->Run(code);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kExited) << r->stderr_text;
  EXPECT_EQ(r->stdout_text.find("visible"), std::string::npos) << r->stdout_text;
  EXPECT_NE(r->stdout_text.find("hidden /etc/shadow"), std::string::npos);
}

TEST(Sandbox, WritingOutsideTheWorkDirFailsAndLeavesTheHostAlone) {
  NEED_SANDBOX();
  if (!sb->isolated()) GTEST_SKIP() << "running without bubblewrap";
  const std::string target = std::string(LLEMMA_BINARY_DIR) + "/sandbox_escape_probe";
  std::filesystem::remove(target);
  const std::string code =
      "import os\nok = []\nfor p in ['" + target +
      "', '/usr/evil', '/evil', '/etc/evil']:\n"
      "  try:\n    open(p, 'w').write('x'); ok.append(p)\n  except OSError:\n    pass\n"
      "open('inside.txt', 'w').write('fine')\nprint(ok, open('inside.txt').read())\n";
  auto r = sb->Run(code);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stdout_text, "[] fine\n") << r->stderr_text;
  EXPECT_FALSE(std::filesystem::exists(target));
  EXPECT_FALSE(std::filesystem::exists("/evil"));
}

TEST(Sandbox, NetworkIsUnreachable) {
  NEED_SANDBOX();
  if (!sb->isolated()) GTEST_SKIP() << "running without bubblewrap";
  auto r = sb->Run(
      "import socket\n"
      "s = socket.socket()\ns.settimeout(1)\n"
      "try:\n  s.connect(('1.1.1.1', 80)); print('connected')\nexcept OSError as e:\n  "
      "print('refused')\n"
      "try:\n  socket.getaddrinfo('example.com', 80); print('resolved')\nexcept OSError:\n  "
      "print('no dns')\n"
      "import os\nprint(sorted(os.listdir('/sys/class/net')) if os.path.exists('/sys/class/net') "
      "else ['lo'])\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stdout_text, "refused\nno dns\n['lo']\n") << r->stderr_text;
}

TEST(Sandbox, EnvironmentIsScrubbed) {
  NEED_SANDBOX();
  setenv("LLEMMA_SECRET_FOR_TEST", "hunter2", 1);
  auto r = sb->Run(
      "import os\nprint(sorted(k for k in os.environ if 'SECRET' in k or k == 'SSH_AUTH_SOCK'))\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stdout_text, "[]\n");
}

TEST(Sandbox, KillingTheParentLosesOnlyThatRun) {
  NEED_SANDBOX();
  auto r = sb->Run(
      "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nimport time\ntime.sleep(5)\n",
      Quick());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(r->outcome, Outcome::kExited);
  EXPECT_EQ(kill(getpid(), 0), 0);  // the host process is untouched
  for (int i = 0; i < 3; ++i) {     // and every worker still serves runs
    auto next = sb->Run("print(6*7)\n");
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    EXPECT_EQ(next->stdout_text, "42\n");
  }
}

TEST(Sandbox, RunsDoNotSeeEachOthersFiles) {
  NEED_SANDBOX();
  // A run leaves a file and a background process behind; later runs, in
  // parallel and in sequence, must see neither.
  auto first = sb->Run(
      "import os\nopen('left.txt','w').write('x')\nopen('/tmp/also.txt','w').write('x')\n"
      "if os.fork() == 0:\n  os.setsid()\n  import time\n  time.sleep(30)\n");
  ASSERT_TRUE(first.ok());
  std::vector<std::thread> threads;
  std::vector<std::string> seen(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      const std::string code = "import os, time\nopen('mine_" + std::to_string(i) +
                               "', 'w').write('x')\ntime.sleep(0.05)\n"
                               "print(sorted(os.listdir('.')), sorted(os.listdir('/tmp')))\n";
      auto r = sb->Run(code);
      seen[i] = r.ok() ? r->stdout_text : r.status().ToString();
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) {
    if (sb->isolated()) {
      EXPECT_EQ(seen[i], "['mine_" + std::to_string(i) + "'] ['w']\n");
    } else {
      EXPECT_EQ(seen[i].substr(0, 11 + std::to_string(i).size()),
                "['mine_" + std::to_string(i) + "']");
    }
  }
}

TEST(Sandbox, BigFilesHitTheFileLimit) {
  NEED_SANDBOX();
  Limits l = Quick();
  l.file_bytes = 1 << 20;
  auto r = sb->Run("open('big', 'wb').write(b'x' * (4 << 20))\n", l);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kFileLimit) << OutcomeName(r->outcome) << r->stderr_text;
}

TEST(Sandbox, MissingBubblewrapIsRefusedUnlessUnsafeIsAllowed) {
  SandboxOptions o;
  o.bwrap = "/nonexistent/bwrap";
  auto r = Sandbox::Create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("--unsafe-no-sandbox"), std::string::npos);
}

TEST(Sandbox, UnsafeModeStillAppliesLimits) {
  SandboxOptions o;
  o.bwrap = "/nonexistent/bwrap";
  o.allow_unsafe = true;
  auto r = Sandbox::Create(o);
  if (!r.ok()) GTEST_SKIP() << r.status().message();
  EXPECT_FALSE((*r)->isolated());
  Limits l = Quick();
  l.cpu_seconds = 1;
  auto run = (*r)->Run("while True: pass\n", l);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->outcome, Outcome::kCpuLimit);
  run = (*r)->Run("import sympy\nprint(sympy.Rational(1, 3) + sympy.Rational(1, 6))\n");
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->stdout_text, "1/2\n");
}

}  // namespace
}  // namespace llemma::sandbox
