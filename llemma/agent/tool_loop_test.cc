#include "llemma/agent/tool_loop.h"

#include <gtest/gtest.h>

#include <deque>
#include <memory>

#include "llemma/agent/sandbox_test_util.h"
#include "llemma/agent/solve.h"
#include "llemma/model/model.h"

namespace llemma::agent {
namespace {

// A scripted model: a fixed text that it "generates" from, honouring stop
// strings like the real decoder (the stop string is consumed, not returned).
// It records every transcript it was asked to continue.
struct ScriptedModel {
  std::deque<std::string> replies;  // what each step writes before stop matching
  std::vector<std::string> seen;

  GenerateStep Step() {
    return [this](const std::string& transcript, const std::vector<std::string>& stop,
                  int64_t max_new_tokens,
                  const std::function<void(std::string_view)>& on_text) -> StatusOr<StepOutput> {
      seen.push_back(transcript);
      if (replies.empty()) return StepOutput{};
      std::string text = replies.front();
      replies.pop_front();
      StepOutput out;
      size_t cut = text.size();
      for (const auto& s : stop) {
        const size_t at = text.find(s);
        if (at != std::string::npos && at < cut) {
          cut = at;
          out.stop_matched = s;
        }
      }
      out.text = text.substr(0, cut);
      out.n_tokens = std::min<int64_t>(max_new_tokens, static_cast<int64_t>(out.text.size()));
      if (on_text) on_text(out.text);
      return out;
    };
  }
};

TEST(ToolLoop, RunsEachBlockAndFeedsItsOutputBack) {
  NEED_SANDBOX();
  ScriptedModel m;
  m.replies = {"Let me compute.\n```python\nignored", "\nprint(3**4)\n```\nmore",
               "The result is 81. Final Answer: The final answer is $81$. I hope it is correct."};
  ToolLoopOptions o;
  o.stop = {"I hope it is correct."};
  std::string streamed;
  auto r = RunToolLoop("PROMPT", m.Step(), sb, o, [&](std::string_view s) { streamed += s; });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rounds, 1);
  EXPECT_EQ(r->stop_matched, "I hope it is correct.");
  EXPECT_EQ(r->completion,
            "Let me compute.\n```python\nprint(3**4)\n```\n```output\n81\n```\n"
            "The result is 81. Final Answer: The final answer is $81$. ");
  EXPECT_EQ(streamed, r->completion);
  ASSERT_EQ(m.seen.size(), 3u);
  EXPECT_EQ(m.seen[1], "PROMPTLet me compute.\n```python");
  EXPECT_EQ(m.seen[2], "PROMPT" + r->completion.substr(0, r->completion.find("The result")));
  ASSERT_EQ(r->events.size(), 4u);
  EXPECT_EQ(r->events[2].kind, ToolEvent::Kind::kOutput);
  EXPECT_EQ(r->events[2].outcome, sandbox::Outcome::kExited);
}

TEST(ToolLoop, ErrorsAndLimitsAreShownToTheModel) {
  NEED_SANDBOX();
  ScriptedModel m;
  m.replies = {"```python", "\n1/0\n```", "```python", "\nwhile True: pass\n```", "done"};
  ToolLoopOptions o;
  o.limits.wall_seconds = 1;
  o.limits.cpu_seconds = 0;
  auto r = RunToolLoop("", m.Step(), sb, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rounds, 2);
  EXPECT_NE(r->events[2].text.find("ZeroDivisionError"), std::string::npos) << r->events[2].text;
  EXPECT_EQ(r->events[5].text, "```output\n[timeout]\n```\n");
  EXPECT_EQ(r->events[5].outcome, sandbox::Outcome::kTimeout);
}

TEST(ToolLoop, StopsRunningCodeAfterMaxRounds) {
  NEED_SANDBOX();
  ScriptedModel m;
  m.replies = {"```python", "\nprint(1)\n```", "```python", "\nprint(2)\n```", "never asked"};
  ToolLoopOptions o;
  o.max_rounds = 1;
  auto r = RunToolLoop("", m.Step(), sb, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rounds, 1);
  EXPECT_EQ(r->completion,
            "```python\nprint(1)\n```\n```output\n1\n```\n```python\nprint(2)\n```\n");
  EXPECT_EQ(m.replies.size(), 1u);
}

TEST(ToolLoop, UnclosedBlockIsKeptButNotRun) {
  NEED_SANDBOX();
  ScriptedModel m;
  m.replies = {"```python", "\nprint('never')"};
  auto r = RunToolLoop("", m.Step(), sb, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rounds, 0);
  EXPECT_EQ(r->completion, "```python\nprint('never')");
}

TEST(ToolLoop, WithoutRoundsPythonFencesAreOrdinaryText) {
  ScriptedModel m;
  m.replies = {
      "```python\nprint(1)\n```\nFinal Answer: The final answer is $1$. I hope it is correct."};
  ToolLoopOptions o;
  o.max_rounds = 0;
  o.stop = {"I hope it is correct."};
  auto r = RunToolLoop("", m.Step(), nullptr, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rounds, 0);
  EXPECT_EQ(r->completion, "```python\nprint(1)\n```\nFinal Answer: The final answer is $1$. ");
}

TEST(ToolLoop, OutputShownToTheModelIsCut) {
  sandbox::RunResult run;
  run.stdout_text = std::string(5000, 'a');
  const std::string s = FormatToolOutput(run, 100);
  EXPECT_EQ(s, std::string(50, 'a') + "\n...\n" + std::string(50, 'a'));
  run.stdout_text = "x\n";
  run.outcome = sandbox::Outcome::kMemoryLimit;
  run.stderr_text = "MemoryError\n";
  EXPECT_EQ(FormatToolOutput(run, 100), "x\nMemoryError\n[memory_limit]");
}

TEST(Solve, ExtractsTheMinervaAnswerFromTheTranscript) {
  NEED_SANDBOX();
  ScriptedModel m;
  m.replies = {"We compute.\n```python", "\nprint(2**10)\n```",
               "So the answer is 1024.\nFinal Answer: The final answer is $1024$. I hope it is "
               "correct.\n\nProblem:"};
  SolveOptions o;
  o.tools = true;
  auto r = Solve(m.Step(), sb, "SHOTS", "What is $2^{10}$?", o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(m.seen[0], "SHOTS\n\nProblem:\nWhat is $2^{10}$?\n\nSolution:");
  EXPECT_EQ(r->loop.rounds, 1);
  EXPECT_EQ(r->answer, std::optional<std::string>("1024"));
}

// Smoke run through the real decoder: with no python block in its
// (random-weight) output, the loop's completion is exactly what Generate
// writes for the same prompt.
TEST(Solve, RealModelStepMatchesPlainGeneration) {
  NEED_SANDBOX();
  const std::string dir = std::string(LLEMMA_TESTDATA_DIR) + "/models/tiny-mha-f32";
  auto model = Model::Load(dir, {});
  if (!model.ok()) GTEST_SKIP() << model.status().ToString();
  auto tok = Tokenizer::Load(dir + "/tokenizer.model");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  auto ctx = Context::Create(**model, {.n_ctx = 256, .n_threads = 1});
  ASSERT_TRUE(ctx.ok());
  SamplingParams greedy;
  const std::string prompt = "Problem: 2+2?\n\nSolution:";
  GenerateOptions go;
  go.max_new_tokens = 24;
  go.stop = {kCodeOpen};
  auto plain = Generate(**ctx, **tok, (*tok)->Encode(prompt, true), go);
  ASSERT_TRUE(plain.ok());
  ToolLoopOptions o;
  o.max_new_tokens = 24;
  auto r = RunToolLoop(prompt, ModelStep(**ctx, **tok, greedy), sb, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  if (plain->finish == FinishReason::kStop) GTEST_SKIP() << "the fixture wrote a python fence";
  EXPECT_EQ(r->rounds, 0);
  EXPECT_EQ(r->completion, plain->text);
}

}  // namespace
}  // namespace llemma::agent
