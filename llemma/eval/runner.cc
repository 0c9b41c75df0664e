#include "llemma/eval/runner.h"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <map>
#include <set>

#ifdef LLEMMA_HAVE_AGENT
#include "llemma/core/mix.h"
#include "llemma/eval/tasks/tool_use.h"
#include "llemma/eval/tool_backend.h"
#endif

namespace llemma::eval {

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

uint64_t Fnv1a(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

StoredProblem ToStored(const Problem& p) { return {p.id, p.subject, p.reference}; }

}  // namespace

std::string ModeName(math::Mode mode) {
  return mode == math::Mode::kCompatLlemma ? "llemma" : "default";
}

Status ParseShard(std::string_view text, int* index, int* count) {
  const size_t slash = text.find('/');
  int i = 0, n = 0;
  const auto bad = [&] {
    return InvalidArgumentError("--shard \"" + std::string(text) +
                                "\" must be i/n with 1 <= i <= n, e.g. --shard 2/4");
  };
  if (slash == std::string_view::npos) return bad();
  const std::string_view a = text.substr(0, slash), b = text.substr(slash + 1);
  if (std::from_chars(a.data(), a.data() + a.size(), i).ptr != a.data() + a.size() || a.empty())
    return bad();
  if (std::from_chars(b.data(), b.data() + b.size(), n).ptr != b.data() + b.size() || b.empty())
    return bad();
  if (n < 1 || i < 1 || i > n) return bad();
  *index = i - 1;
  *count = n;
  return Status::Ok();
}

uint64_t ProblemSeed(uint64_t run_seed, std::string_view task, std::string_view problem_id) {
  uint64_t h = Fnv1a(0xcbf29ce484222325ull, task);
  h = Fnv1a(h ^ 0xff, problem_id);
  // Leave room for + j (up to 2^32 samples) below 2^63, where servers take seeds.
  return Mix64(Mix64(run_seed) ^ h) >> 2;
}

StatusOr<RunSettings> ResolveSettings(const Task& task, const std::vector<Problem>& all,
                                      const EvalOptions& o, const std::string& model) {
  const TaskSpec& spec = task.spec();
  RunSettings s;
  s.task = spec.name;
  s.model = model;
  s.seed = o.seed;
  s.fields = spec.name.find('@') != std::string::npos ? o.fields : "";
  s.checker = ModeName(o.mode);
  if (!o.tools.empty()) {
    if (o.tools != "python")
      return InvalidArgumentError("--tools must be python, got \"" + o.tools + "\"");
    if (o.tool_rounds < 1) return InvalidArgumentError("--tool-rounds must be at least 1");
    if (spec.perplexity)
      return InvalidArgumentError("task " + spec.name +
                                  " is scored by log-likelihood, not generated: --tools python "
                                  "applies to generative tasks only");
    if (spec.tool_use)
      return InvalidArgumentError("task " + spec.name +
                                  " already runs the program each sample writes: --tools python "
                                  "applies to the other generative tasks only");
    s.tools = fmt::format("python rounds={}", o.tool_rounds);
  }
  if (spec.perplexity) {
    // Scored, not generated: decoding settings do not apply.
    s.preset = "score";
    s.k = 1;
    s.temperature = 0;
    s.top_p = 1;
    s.max_tokens = 0;
  } else {
    Sampling base;
    if (o.preset == "greedy") {
      base = {1, 0.0, 1.0};
    } else if (o.preset == "paper") {
      base = spec.paper;
    } else {
      return InvalidArgumentError("--preset must be greedy or paper, got \"" + o.preset + "\"");
    }
    s.k = o.k.value_or(base.k);
    s.temperature = o.temperature.value_or(base.temperature);
    s.top_p = o.top_p.value_or(base.top_p);
    s.max_tokens = o.max_tokens.value_or(spec.max_tokens);
    const bool overridden = o.k || o.temperature || o.top_p || o.max_tokens;
    s.preset = overridden ? o.preset + "+overrides" : o.preset;
    if (s.k < 1) return InvalidArgumentError("--k must be at least 1");
    if (!(s.temperature >= 0) || !std::isfinite(s.temperature))
      return InvalidArgumentError("--temperature must be >= 0");
    if (!(s.top_p > 0 && s.top_p <= 1)) return InvalidArgumentError("--top-p must be in (0, 1]");
    if (s.max_tokens < 1) return InvalidArgumentError("--max-tokens must be at least 1");
  }
  std::string all_prompts;
  for (const Problem& p : all) {
    all_prompts += p.id;
    all_prompts += '\0';
    all_prompts += p.prompt;
    all_prompts += '\0';
    all_prompts += p.continuation;
    all_prompts += '\0';
  }
  s.prompt_sha256 = Sha256Hex(all_prompts);
  return s;
}

std::vector<Problem> SelectProblems(const std::vector<Problem>& all, int64_t limit, int shard_index,
                                    int shard_count) {
  std::vector<Problem> limited;
  std::map<std::string, int64_t> per_subject;
  for (const Problem& p : all) {
    if (limit > 0 && per_subject[p.subject]++ >= limit) continue;
    limited.push_back(p);
  }
  std::vector<Problem> out;
  for (size_t i = 0; i < limited.size(); ++i) {
    if (static_cast<int>(i % static_cast<size_t>(shard_count)) == shard_index) {
      out.push_back(std::move(limited[i]));
    }
  }
  return out;
}

ProblemVerdict ScoreProblem(const Task& task, const Problem& p, math::Mode mode,
                            const std::vector<std::string>& completions,
                            const math::CheckOptions& check) {
  ProblemVerdict v;
  v.problem_id = p.id;
  v.n_samples = static_cast<int>(completions.size());
  const math::ItemScore all = task.Score(p, mode, completions, check);
  v.elected = all.vote.elected;
  v.acc = all.vote.acc;
  v.pass_rate = all.vote.pass_rate;
  v.valid = all.vote.valid;
  const std::vector<bool> correct = task.SampleCorrect(p, mode, completions, all, check);
  for (size_t i = 0; i < completions.size(); ++i) {
    SampleVerdict sv;
    sv.index = static_cast<int>(i);
    if (i < all.answers.size()) sv.answer = all.answers[i];
    sv.correct = i < correct.size() && correct[i];
    v.samples.push_back(std::move(sv));
  }
  return v;
}

namespace {

Status RunPerplexityTask(Backend& backend, Store& store, const Task& task,
                         const std::vector<Problem>& problems, Progress* progress) {
  const std::string& name = task.spec().name;
  LLEMMA_ASSIGN_OR_RETURN(std::vector<StoredScore> done, store.Scores(name));
  std::set<std::string> have;
  for (const StoredScore& s : done) have.insert(s.problem_id);
  ProgressState ps;
  ps.task = name;
  ps.problems_total = ps.samples_total = static_cast<int64_t>(problems.size());
  for (const Problem& p : problems) ps.problems_done += have.count(p.id);
  ps.samples_done = ps.problems_done;
  const Clock::time_point start = Clock::now();
  if (progress) progress->Start(ps);
  for (const Problem& p : problems) {
    if (have.count(p.id)) continue;
    const Clock::time_point t0 = Clock::now();
    StatusOr<LogLikelihood> ll = backend.Score(p.prompt, p.continuation);
    if (!ll.ok()) return ll.status().WithContext(name + " problem " + p.id);
    StoredScore s;
    s.problem_id = p.id;
    s.ll = *ll;
    s.n_bytes = static_cast<int64_t>(p.continuation.size());
    s.seconds = Since(t0);
    LLEMMA_RETURN_IF_ERROR(store.AddScore(name, s, s.seconds));
    ps.problems_done++;
    ps.samples_done++;
    ps.samples_this_session++;
    ps.tokens_this_session += ll->n_tokens;
    ps.seconds = Since(start);
    if (progress) progress->Update(ps);
  }
  ps.seconds = Since(start);
  if (progress) progress->Finish(ps);
  return Status::Ok();
}

}  // namespace

Status RunTask(Backend& backend, Store& store, const Task& task, const EvalOptions& o,
               Progress* progress) {
  const TaskSpec& spec = task.spec();
  LLEMMA_ASSIGN_OR_RETURN(std::vector<Problem> all, task.Load());
  LLEMMA_ASSIGN_OR_RETURN(RunSettings settings, ResolveSettings(task, all, o, backend.Describe()));
  // Before anything is generated: a task that cannot score (no sandbox) stops here.
  LLEMMA_RETURN_IF_ERROR(task.Prepare().WithContext("task " + spec.name));
  // --tools: the samples come from tool loops around the backend, whose
  // programs run in the shared sandbox (which must start before anything is generated).
  Backend* gen = &backend;
#ifdef LLEMMA_HAVE_AGENT
  std::unique_ptr<ToolLoopBackend> tool_backend;
  if (!settings.tools.empty()) {
    StatusOr<sandbox::Sandbox*> sb = ToolSandbox();
    if (!sb.ok())
      return sb.status().WithContext("--tools python (task " + spec.name +
                                     "): the programs cannot run");
    ToolLoopBackendOptions to;
    to.max_rounds = o.tool_rounds;
    to.parallel = std::max(1, o.tool_parallel);
    tool_backend = std::make_unique<ToolLoopBackend>(backend, *sb, to);
    gen = tool_backend.get();
  }
#else
  if (!settings.tools.empty())
    return UnimplementedError("--tools python: this build has no sandbox (llemma/agent)");
#endif
  LLEMMA_RETURN_IF_ERROR(store.BeginTask(settings));
  const std::vector<Problem> problems = SelectProblems(all, o.limit, o.shard_index, o.shard_count);
  {
    std::vector<StoredProblem> stored;
    stored.reserve(problems.size());
    for (const Problem& p : problems) stored.push_back(ToStored(p));
    LLEMMA_RETURN_IF_ERROR(store.AddProblems(spec.name, stored));
  }
  if (spec.perplexity) return RunPerplexityTask(backend, store, task, problems, progress);

  const int k = settings.k;
  const std::string checker = ModeName(o.mode);
  LLEMMA_ASSIGN_OR_RETURN(auto have, store.SampleIndices(spec.name));
  LLEMMA_ASSIGN_OR_RETURN(auto verdicts, store.Verdicts(spec.name, checker));

  // Requests for exactly the samples not stored yet, in contiguous runs.
  const int per_request = o.samples_per_request > 0 ? o.samples_per_request : k;
  std::vector<GenRequest> requests;
  std::vector<size_t> request_problem;  // index into `problems`
  ProgressState ps;
  ps.task = spec.name;
  ps.problems_total = static_cast<int64_t>(problems.size());
  ps.samples_total = ps.problems_total * k;
  std::vector<int> stored_count(problems.size(), 0);
  for (size_t i = 0; i < problems.size(); ++i) {
    const Problem& p = problems[i];
    const std::set<int>& got = have[p.id];
    for (int j : got) stored_count[i] += j < k;
    ps.samples_done += stored_count[i];
    if (stored_count[i] == k) ps.problems_done++;
    const uint64_t seed = ProblemSeed(settings.seed, spec.name, p.id);
    int j = 0;
    while (j < k) {
      if (got.count(j)) {
        ++j;
        continue;
      }
      int end = j;
      while (end < k && !got.count(end) && end - j < per_request) ++end;
      GenRequest r;
      r.id = spec.name + "/" + p.id + "/" + std::to_string(j);
      r.prompt = p.prompt;
      r.sampling.n = end - j;
      r.sampling.temperature = settings.temperature;
      r.sampling.top_p = settings.top_p;
      r.sampling.max_tokens = settings.max_tokens;
      r.sampling.stop = spec.stop;
      r.sampling.seed = seed;
      r.sampling.first_sample = j;
      requests.push_back(std::move(r));
      request_problem.push_back(i);
      j = end;
    }
  }

  // Scores a problem whose k samples are all stored, unless already scored.
  const auto score = [&](size_t i) -> Status {
    const Problem& p = problems[i];
    auto it = verdicts.find(p.id);
    if (it != verdicts.end() && it->second.n_samples == k) return Status::Ok();
    LLEMMA_ASSIGN_OR_RETURN(std::vector<StoredSample> rows, store.Samples(spec.name, p.id));
    std::vector<std::string> completions(k);
    int found = 0;
    for (const StoredSample& s : rows) {
      if (s.sample.index < k) {
        completions[s.sample.index] = s.sample.text;
        ++found;
      }
    }
    if (found != k) return Status::Ok();
    const ProblemVerdict v = ScoreProblem(task, p, o.mode, completions, o.check);
    LLEMMA_RETURN_IF_ERROR(store.PutVerdicts(spec.name, checker, {&v, 1}));
    verdicts[p.id] = v;
    return Status::Ok();
  };
  // Problems finished in an earlier session but not scored (killed in between,
  // or scored with another checker mode).
  for (size_t i = 0; i < problems.size(); ++i) {
    if (stored_count[i] == k) LLEMMA_RETURN_IF_ERROR(score(i));
  }

  const Clock::time_point start = Clock::now();
  Clock::time_point last = start;
  if (progress) progress->Start(ps);
  std::map<std::string, size_t> by_id;
  for (size_t r = 0; r < requests.size(); ++r) by_id[requests[r].id] = request_problem[r];
  const auto on_done = [&](const GenRequest& r, std::vector<GenSample> samples) -> Status {
    auto it = by_id.find(r.id);
    if (it == by_id.end()) return InternalError("backend returned unknown request " + r.id);
    const size_t i = it->second;
    if (static_cast<int>(samples.size()) != r.sampling.n) {
      return InternalError(fmt::format("backend returned {} samples for request {} (asked {})",
                                       samples.size(), r.id, r.sampling.n));
    }
    const Clock::time_point now = Clock::now();
    const double wall = std::chrono::duration<double>(now - last).count();
    last = now;
    LLEMMA_RETURN_IF_ERROR(store.AddSamples(spec.name, problems[i].id, samples, wall));
    for (const GenSample& s : samples) ps.tokens_this_session += s.n_tokens;
    stored_count[i] += static_cast<int>(samples.size());
    ps.samples_done += static_cast<int64_t>(samples.size());
    ps.samples_this_session += static_cast<int64_t>(samples.size());
    if (stored_count[i] >= k) {
      ps.problems_done++;
      LLEMMA_RETURN_IF_ERROR(score(i));
    }
    ps.seconds = Since(start);
    if (progress) progress->Update(ps);
    return Status::Ok();
  };
  const size_t wave = static_cast<size_t>(std::max(1, o.requests_per_call));
  Status run = Status::Ok();
  for (size_t begin = 0; begin < requests.size() && run.ok(); begin += wave) {
    const size_t n = std::min(wave, requests.size() - begin);
    run = gen->Run(std::span<const GenRequest>(requests).subspan(begin, n), on_done);
  }
  ps.seconds = Since(start);
  if (progress) progress->Finish(ps);
  return run;
}

Status RunEvaluation(Backend& backend, Store& store,
                     const std::vector<std::unique_ptr<Task>>& tasks, const EvalOptions& o,
                     Progress* progress) {
  if (o.shard_count < 1 || o.shard_index < 0 || o.shard_index >= o.shard_count) {
    return InvalidArgumentError("--shard: index out of range");
  }
  for (const auto& t : tasks) LLEMMA_RETURN_IF_ERROR(RunTask(backend, store, *t, o, progress));
  return Status::Ok();
}

}  // namespace llemma::eval
