// The OpenAI-compatible test server (tests/testdata/openai_server.py) as a
// child process on an ephemeral port, for tests: it logs every request it
// receives, so a test sees exactly what went over the wire. Test-only.
//
//   START_SERVER(server, {"--model", "tiny"});   // GTEST_SKIPs when it cannot run
//   ... server->url() ...  server->Posts("[MARKER]") ...
//
// With kScriptedServer as the script (llemma/eval/testdata), prompts that
// contain a given text get scripted completions: {"--replies", "R.json"}.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace llemma::eval {

inline constexpr const char* kTestPython = "/usr/bin/python3";
inline constexpr const char* kScriptedServer =
    LLEMMA_SOURCE_DIR "/llemma/eval/testdata/scripted_openai_server.py";

// The test server as a child process; killed when this goes away.
class TestServer {
 public:
  // nullptr (and `why`) when the server cannot run here. `script`: the
  // server program ("" = tests/testdata/openai_server.py).
  static std::unique_ptr<TestServer> Start(std::string* why, std::vector<std::string> extra = {},
                                           std::string script = "") {
    if (::access(kTestPython, X_OK) != 0) {
      *why = std::string(kTestPython) + " is not installed";
      return nullptr;
    }
    static int counter = 0;
    auto s = std::unique_ptr<TestServer>(new TestServer);
    s->log_ = ::testing::TempDir() + "/openai_server_" + std::to_string(::getpid()) + "_" +
              std::to_string(counter++) + ".jsonl";
    std::filesystem::remove(s->log_);
    if (script.empty())
      script = std::string(LLEMMA_SOURCE_DIR) + "/tests/testdata/openai_server.py";
    std::vector<std::string> args = {kTestPython, script, "--log", s->log_};
    args.insert(args.end(), extra.begin(), extra.end());
    int fds[2];
    if (::pipe(fds) != 0) {
      *why = "pipe failed";
      return nullptr;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(kTestPython, argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    s->pid_ = pid;
    std::string line;
    pollfd p{fds[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos && ::poll(&p, 1, 10000) > 0) {
      char buf[64];
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, n);
    }
    ::close(fds[0]);
    s->port_ = std::atoi(line.c_str());
    if (s->port_ <= 0) {
      *why = "the test server did not start (no port on stdout)";
      return nullptr;
    }
    return s;
  }
  ~TestServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  std::string url(const std::string& path = "/v1") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  // Every request logged so far.
  std::vector<nlohmann::json> Log() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(log_);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    return out;
  }
  // The logged POSTs whose prompt contains `marker`.
  std::vector<nlohmann::json> Posts(const std::string& marker) const {
    std::vector<nlohmann::json> out;
    for (nlohmann::json& e : Log())
      if (e["method"] == "POST" && e["body"].is_object() &&
          e["body"].value("prompt", "").find(marker) != std::string::npos)
        out.push_back(std::move(e));
    return out;
  }
  // The bodies of the POSTs answered with 200.
  std::vector<nlohmann::json> Completions() const {
    std::vector<nlohmann::json> out;
    for (nlohmann::json& e : Log())
      if (e["method"] == "POST" && e["status"] == 200) out.push_back(std::move(e["body"]));
    return out;
  }

 private:
  TestServer() = default;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_;
};

#define START_SERVER(var, ...)                             \
  std::string why_##var;                                   \
  auto var = TestServer::Start(&why_##var, ##__VA_ARGS__); \
  if (!var) GTEST_SKIP() << "no test server: " << why_##var

}  // namespace llemma::eval
