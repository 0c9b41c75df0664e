// OpenAIBackend against a real HTTP server: tests/testdata/openai_server.py,
// started on an ephemeral port for each test and logging every request it
// receives, so the tests see exactly what went over the wire.
#include "llemma/eval/openai_backend.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "llemma/eval/openai_test_server.h"

namespace llemma::eval {
namespace {

using json = nlohmann::json;

OpenAIOptions FastOptions(const TestServer& s) {
  OpenAIOptions o;
  o.base_url = s.url();
  o.backoff_base_s = 0.005;
  o.backoff_max_s = 0.05;
  o.max_retries = 4;
  o.request_timeout_s = 20;
  return o;
}

std::unique_ptr<OpenAIBackend> MakeBackend(const OpenAIOptions& o) {
  auto b = OpenAIBackend::Create(o);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? std::move(*b) : nullptr;
}

GenRequest Request(const std::string& id, const std::string& prompt, int n = 1,
                   int64_t max_tokens = 64) {
  GenRequest r;
  r.id = id;
  r.prompt = prompt;
  r.sampling.n = n;
  r.sampling.max_tokens = max_tokens;
  return r;
}

std::string Name(std::string prefix, int i) { return prefix.append(std::to_string(i)); }

// Runs and collects every on_done call by request id (failing on a second
// call for the same id).
struct Collected {
  Status status;
  std::map<std::string, std::vector<GenSample>> by_id;
  int calls = 0;
};
Collected RunAll(OpenAIBackend& b, const std::vector<GenRequest>& reqs) {
  Collected c;
  c.status = b.Run(reqs, [&](const GenRequest& r, std::vector<GenSample> out) {
    ++c.calls;
    EXPECT_EQ(c.by_id.count(r.id), 0u) << "on_done twice for " << r.id;
    c.by_id[r.id] = std::move(out);
    return Status::Ok();
  });
  return c;
}

class OpenAIBackendTest : public ::testing::Test {
 protected:
  void SetUp() override { ::unsetenv("OPENAI_API_KEY"); }
};

TEST_F(OpenAIBackendTest, TakesTheFirstListedModelAndNormalizesTheUrl) {
  START_SERVER(server);
  for (const std::string& given : {server.get()->url(""), server->url("/v1"), server->url("/v1/"),
                                   server->url("/v1/completions")}) {
    OpenAIOptions o = FastOptions(*server);
    o.base_url = given;
    auto b = MakeBackend(o);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->model(), "test-model") << given;
    EXPECT_EQ(b->completions_url(), server->url("/v1/completions")) << given;
    EXPECT_EQ(b->Describe(), "openai " + server->url("/v1") + " model=test-model");
  }
}

TEST_F(OpenAIBackendTest, SendsTheSamplingFieldsAndReturnsEverySampleOnce) {
  START_SERVER(server, {"--api-key", "sekret"});
  OpenAIOptions o = FastOptions(*server);
  o.api_key = "sekret";
  auto b = MakeBackend(o);
  ASSERT_NE(b, nullptr);
  std::vector<GenRequest> reqs;
  for (int i = 0; i < 3; ++i) {
    GenRequest r = Request(Name("p", i), Name("Problem ", i) + " [FIELDS]", 3, 5);
    r.sampling.temperature = 0.7;
    r.sampling.top_p = 0.9;
    r.sampling.stop = {"\n\n", "Problem:"};
    r.sampling.seed = 100;
    r.sampling.first_sample = 2;
    reqs.push_back(r);
  }
  Collected c = RunAll(*b, reqs);
  ASSERT_TRUE(c.status.ok()) << c.status.ToString();
  EXPECT_EQ(c.calls, 3);
  for (const GenRequest& r : reqs) {
    const std::vector<GenSample>& s = c.by_id[r.id];
    ASSERT_EQ(s.size(), 3u) << r.id;
    for (int j = 0; j < 3; ++j) {
      EXPECT_EQ(s[j].index, 2 + j);
      EXPECT_EQ(s[j].finish_reason, "length");  // every server sample is longer than 5 tokens
      EXPECT_EQ(s[j].n_tokens, 5);
      EXPECT_EQ(s[j].n_prompt_tokens, 3);
      EXPECT_FALSE(s[j].text.empty());
    }
    EXPECT_NE(s[0].text, s[1].text);  // different seeds
  }
  const std::vector<json> posts = server->Posts("[FIELDS]");
  ASSERT_EQ(posts.size(), 3u);
  for (const json& p : posts) {
    EXPECT_EQ(p["path"], "/v1/completions");
    EXPECT_EQ(p["auth"], "Bearer sekret");
    const json& body = p["body"];
    EXPECT_EQ(body["model"], "test-model");
    EXPECT_EQ(body["n"], 3);
    EXPECT_EQ(body["max_tokens"], 5);
    EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.7);
    EXPECT_DOUBLE_EQ(body["top_p"].get<double>(), 0.9);
    EXPECT_EQ(body["seed"], 102);  // seed + first_sample
    EXPECT_EQ(body["stop"], json::array({"\n\n", "Problem:"}));
  }
}

TEST_F(OpenAIBackendTest, CutsStopStringsAndMapsFinishReasons) {
  START_SERVER(server);
  auto b = MakeBackend(FastOptions(*server));
  ASSERT_NE(b, nullptr);
  std::vector<GenRequest> reqs = {Request("server-cut", "[STOPTEXT]"),
                                  Request("client-cut", "[STOPTEXT][IGNORESTOP]"),
                                  Request("eos", "[STOPTEXT] no stops")};
  reqs[0].sampling.stop = reqs[1].sampling.stop = {"I hope it is correct.", "Problem:"};
  Collected c = RunAll(*b, reqs);
  ASSERT_TRUE(c.status.ok()) << c.status.ToString();
  EXPECT_EQ(c.by_id["server-cut"][0].text, " The answer is 4. ");
  EXPECT_EQ(c.by_id["server-cut"][0].finish_reason, "stop");
  EXPECT_EQ(c.by_id["client-cut"][0].text, " The answer is 4. ");
  EXPECT_EQ(c.by_id["client-cut"][0].finish_reason, "stop");
  EXPECT_EQ(c.by_id["eos"][0].text, " The answer is 4. I hope it is correct. Problem: next one");
  EXPECT_EQ(c.by_id["eos"][0].finish_reason, "eos");
  // Which stop string ended a sample: the server's stop_reason, or the one cut here.
  EXPECT_EQ(c.by_id["server-cut"][0].stop_matched, "I hope it is correct.");
  EXPECT_EQ(c.by_id["client-cut"][0].stop_matched, "I hope it is correct.");
  EXPECT_EQ(c.by_id["eos"][0].stop_matched, "");
}

TEST_F(OpenAIBackendTest, RetriesServerErrorsAndDroppedConnections) {
  START_SERVER(server);
  auto b = MakeBackend(FastOptions(*server));
  ASSERT_NE(b, nullptr);
  Collected c = RunAll(*b, {Request("a", "[FAIL503:2] x", 2), Request("b", "[DROP] y", 1)});
  ASSERT_TRUE(c.status.ok()) << c.status.ToString();
  EXPECT_EQ(c.by_id["a"].size(), 2u);
  EXPECT_EQ(c.by_id["b"].size(), 1u);
  std::vector<int> statuses;
  for (const json& p : server->Posts("[FAIL503:2]")) statuses.push_back(p["status"]);
  EXPECT_EQ(statuses, (std::vector<int>{503, 503, 200}));
  EXPECT_EQ(server->Posts("[DROP]").size(), 2u);
}

TEST_F(OpenAIBackendTest, WaitsAsLongAsRetryAfterSays) {
  START_SERVER(server);
  auto b = MakeBackend(FastOptions(*server));  // backoff alone would wait ~5 ms
  ASSERT_NE(b, nullptr);
  Collected c = RunAll(*b, {Request("a", "[RATE429]")});
  ASSERT_TRUE(c.status.ok()) << c.status.ToString();
  const std::vector<json> posts = server->Posts("[RATE429]");
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(posts[0]["status"], 429);
  EXPECT_GE(posts[1]["t"].get<double>() - posts[0]["t"].get<double>(), 0.95);
}

TEST_F(OpenAIBackendTest, GivesUpAfterMaxRetriesNamingTheRequest) {
  START_SERVER(server);
  OpenAIOptions o = FastOptions(*server);
  o.max_retries = 2;
  auto b = MakeBackend(o);
  ASSERT_NE(b, nullptr);
  Collected c = RunAll(*b, {Request("prob-17", "[ALWAYS503]")});
  ASSERT_FALSE(c.status.ok());
  EXPECT_EQ(c.status.code(), StatusCode::kUnavailable);
  EXPECT_NE(c.status.message().find("'prob-17'"), std::string::npos) << c.status.message();
  EXPECT_NE(c.status.message().find("3 attempts"), std::string::npos) << c.status.message();
  EXPECT_NE(c.status.message().find("HTTP 503: overloaded"), std::string::npos)
      << c.status.message();
  EXPECT_EQ(server->Posts("[ALWAYS503]").size(), 3u);
  EXPECT_EQ(c.calls, 0);
}

TEST_F(OpenAIBackendTest, ClientErrorsFailAtOnceWithTheServersMessage) {
  START_SERVER(server);
  auto b = MakeBackend(FastOptions(*server));
  ASSERT_NE(b, nullptr);
  Collected c = RunAll(*b, {Request("long-one", "[BAD400]")});
  ASSERT_FALSE(c.status.ok());
  EXPECT_NE(c.status.message().find("'long-one'"), std::string::npos) << c.status.message();
  EXPECT_NE(c.status.message().find("HTTP 400: This model's maximum context length is 4096 tokens"),
            std::string::npos)
      << c.status.message();
  EXPECT_EQ(c.status.message().find('\n'), std::string::npos);
  EXPECT_EQ(server->Posts("[BAD400]").size(), 1u);
}

TEST_F(OpenAIBackendTest, KeepsAtMostConcurrencyRequestsInFlight) {
  START_SERVER(server);
  OpenAIOptions o = FastOptions(*server);
  o.concurrency = 3;
  auto b = MakeBackend(o);
  ASSERT_NE(b, nullptr);
  std::vector<GenRequest> reqs;
  for (int i = 0; i < 10; ++i) reqs.push_back(Request(Name("r", i), Name("[SLOW] ", i), 2));
  Collected c = RunAll(*b, reqs);
  ASSERT_TRUE(c.status.ok()) << c.status.ToString();
  EXPECT_EQ(c.calls, 10);
  for (const GenRequest& r : reqs) {
    ASSERT_EQ(c.by_id[r.id].size(), 2u);
    EXPECT_EQ(c.by_id[r.id][0].index, 0);
    EXPECT_EQ(c.by_id[r.id][1].index, 1);
  }
  int max_in_flight = 0;
  const std::vector<json> posts = server->Posts("[SLOW]");
  EXPECT_EQ(posts.size(), 10u);
  for (const json& p : posts) max_in_flight = std::max(max_in_flight, p["in_flight"].get<int>());
  EXPECT_LE(max_in_flight, 3);
  EXPECT_GE(max_in_flight, 2);  // they did overlap
}

TEST_F(OpenAIBackendTest, AsksForTheRestWhenTheServerReturnsFewerChoices) {
  START_SERVER(server);
  auto b = MakeBackend(FastOptions(*server));
  ASSERT_NE(b, nullptr);
  GenRequest r = Request("few", "[FEWER:2] q", 5);
  r.sampling.seed = 7;
  r.sampling.temperature = 0.8;
  Collected c = RunAll(*b, {r});
  ASSERT_TRUE(c.status.ok()) << c.status.ToString();
  const std::vector<GenSample>& s = c.by_id["few"];
  ASSERT_EQ(s.size(), 5u);
  std::vector<std::pair<int, int>> sent;  // (n, seed)
  for (const json& p : server->Posts("[FEWER:2]"))
    sent.emplace_back(p["body"]["n"], p["body"]["seed"]);
  EXPECT_EQ(sent, (std::vector<std::pair<int, int>>{{5, 7}, {3, 9}, {1, 11}}));
  // Sample j is the one drawn with seed 7 + j: the same text as asking for it alone.
  for (int j = 0; j < 5; ++j) {
    EXPECT_EQ(s[j].index, j);
    GenRequest one = r;
    one.id = "one";
    one.sampling.n = 1;
    one.sampling.first_sample = j;
    Collected alone = RunAll(*b, {one});
    ASSERT_TRUE(alone.status.ok());
    EXPECT_EQ(alone.by_id["one"][0].text, s[j].text) << j;
  }
}

TEST_F(OpenAIBackendTest, GreedyRequestsAskForOneChoiceAndCopyIt) {
  START_SERVER(server);
  auto b = MakeBackend(FastOptions(*server));
  ASSERT_NE(b, nullptr);
  GenRequest r = Request("greedy", "[GREEDY] q", 3, 6);
  r.sampling.first_sample = 4;
  Collected c = RunAll(*b, {r});
  ASSERT_TRUE(c.status.ok()) << c.status.ToString();
  const std::vector<GenSample>& s = c.by_id["greedy"];
  ASSERT_EQ(s.size(), 3u);
  for (int j = 0; j < 3; ++j) {
    EXPECT_EQ(s[j].index, 4 + j);
    EXPECT_EQ(s[j].text, s[0].text);
    EXPECT_EQ(s[j].n_tokens, 6);
    EXPECT_EQ(s[j].finish_reason, "length");
  }
  const std::vector<json> posts = server->Posts("[GREEDY]");
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0]["body"]["n"], 1);
  EXPECT_EQ(posts[0]["body"]["temperature"], 0.0);
}

TEST_F(OpenAIBackendTest, AnErrorFromOnDoneStopsTheRun) {
  START_SERVER(server);
  OpenAIOptions o = FastOptions(*server);
  o.concurrency = 1;
  auto b = MakeBackend(o);
  ASSERT_NE(b, nullptr);
  std::vector<GenRequest> reqs;
  for (int i = 0; i < 5; ++i) reqs.push_back(Request(Name("r", i), Name("[STOP-RUN] ", i)));
  int calls = 0;
  Status s = b->Run(reqs, [&](const GenRequest&, std::vector<GenSample>) {
    return ++calls == 2 ? DataLossError("disk full") : Status::Ok();
  });
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.message(), "disk full");
  EXPECT_EQ(calls, 2);
  EXPECT_LE(server->Posts("[STOP-RUN]").size(), 3u);
}

TEST_F(OpenAIBackendTest, ScoresTheContinuationTokensFromEchoedLogprobs) {
  START_SERVER(server);
  auto b = MakeBackend(FastOptions(*server));
  ASSERT_NE(b, nullptr);
  // The server's tokens: " The", " answer", " is", " 4" after the context, at -0.1 per character.
  StatusOr<LogLikelihood> ll = b->Score("Problem: what is 2+2?", " The answer is 4");
  ASSERT_TRUE(ll.ok()) << ll.status().ToString();
  EXPECT_EQ(ll->n_tokens, 4);
  EXPECT_NEAR(ll->logprob, -0.1 * (3 + 6 + 2 + 1), 1e-9);
  const std::vector<json> posts = server->Posts("Problem: what is 2+2?");
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0]["body"]["prompt"], "Problem: what is 2+2? The answer is 4");
  EXPECT_EQ(posts[0]["body"]["echo"], true);
  EXPECT_EQ(posts[0]["body"]["logprobs"], 1);
  EXPECT_EQ(posts[0]["body"]["max_tokens"], 0);

  // A server that needs max_tokens >= 1: the generated token is not counted.
  StatusOr<LogLikelihood> one = b->Score("[MAXTOK1] x =", " 4 yes");
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->n_tokens, 2);
  EXPECT_NEAR(one->logprob, -0.1 * (1 + 3), 1e-9);
  std::vector<int> max_tokens;
  for (const json& p : server->Posts("[MAXTOK1]")) max_tokens.push_back(p["body"]["max_tokens"]);
  EXPECT_EQ(max_tokens, (std::vector<int>{0, 1}));

  StatusOr<LogLikelihood> none = b->Score("[NOECHO] context", " more");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(none.status().message().find("echo"), std::string::npos);
}

TEST_F(OpenAIBackendTest, RejectsBadOptionsWithAClearMessage) {
  OpenAIOptions o;
  o.model = "m";
  o.base_url = "localhost:8000/v1";
  auto a = OpenAIBackend::Create(o);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("http://"), std::string::npos);
  o.base_url = "http://localhost:8000/v1/chat/completions";
  EXPECT_FALSE(OpenAIBackend::Create(o).ok());
  o.base_url = "http://localhost:8000/v1";
  o.concurrency = 0;
  auto c = OpenAIBackend::Create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("concurrency"), std::string::npos);
}

TEST_F(OpenAIBackendTest, AWrongApiKeyFailsAtCreateWithTheServersMessage) {
  START_SERVER(server, {"--api-key", "right"});
  OpenAIOptions o = FastOptions(*server);
  ::setenv("OPENAI_API_KEY", "wrong", 1);  // taken from the environment
  auto b = OpenAIBackend::Create(o);
  ::unsetenv("OPENAI_API_KEY");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("HTTP 401: Invalid API key"), std::string::npos)
      << b.status().message();
  EXPECT_EQ(server->Log().size(), 1u);  // not retried
  EXPECT_EQ(server->Log()[0]["auth"], "Bearer wrong");
}

TEST_F(OpenAIBackendTest, AnUnreachableServerFailsTheRunAfterRetries) {
  // A port nobody listens on: bind, read the port, close.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  OpenAIOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/v1";
  o.model = "given";  // no /models request
  o.max_retries = 1;
  o.backoff_base_s = 0.001;
  auto b = OpenAIBackend::Create(o);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  Collected c = RunAll(**b, {Request("q1", "hi")});
  ASSERT_FALSE(c.status.ok());
  EXPECT_EQ(c.status.code(), StatusCode::kUnavailable);
  EXPECT_NE(c.status.message().find("'q1'"), std::string::npos) << c.status.message();
  EXPECT_NE(c.status.message().find("2 attempts"), std::string::npos) << c.status.message();
}

}  // namespace
}  // namespace llemma::eval
