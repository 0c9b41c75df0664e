#include "llemma/eval/tool_backend.h"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "llemma/agent/tool_loop.h"
#include "llemma/core/mix.h"

namespace llemma::eval {

namespace {

using Clock = std::chrono::steady_clock;

// What a step gets once the run has stopped (never the run's own error: that is set first).
Status Stopped() { return UnavailableError("the evaluation stopped"); }

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// One generation step waiting for the inner backend.
struct StepSlot {
  GenRequest request;                      // n = 1
  std::optional<StatusOr<GenSample>> got;  // set by the dispatcher
};

// One sample's loop: request `req`, sample i of it.
struct LoopJob {
  size_t req = 0;
  int i = 0;
};

// A request's samples while their loops run.
struct RequestState {
  std::vector<GenSample> samples;
  int loops_left = 0;
  bool copy_first = false;  // greedy: one loop stands for all n samples
};

}  // namespace

uint64_t ToolStepSeed(uint64_t seed, int step) {
  return Mix64(seed ^ Mix64(0x746f6f6c00000000ull + static_cast<uint64_t>(step))) >> 2;
}

ToolLoopBackend::ToolLoopBackend(Backend& inner, sandbox::Sandbox* sb,
                                 const ToolLoopBackendOptions& options)
    : inner_(inner), sb_(sb), options_(options) {}

Status ToolLoopBackend::Run(std::span<const GenRequest> requests, const OnRequestDone& on_done) {
  if (options_.max_rounds < 1) return InvalidArgumentError("--tool-rounds must be at least 1");
  if (options_.parallel < 1) return InvalidArgumentError("tool loops in flight must be >= 1");
  if (sb_ == nullptr) return InvalidArgumentError("--tools python: no sandbox to run programs in");

  std::vector<RequestState> state(requests.size());
  std::vector<LoopJob> jobs;
  for (size_t r = 0; r < requests.size(); ++r) {
    const SamplingSpec& s = requests[r].sampling;
    if (s.n < 0 || s.max_tokens < 1)
      return InvalidArgumentError(
          fmt::format("request '{}': n must be >= 0 and max_tokens >= 1", requests[r].id));
    state[r].samples.resize(s.n);
    state[r].copy_first = s.temperature == 0;
    const int loops = s.n == 0 ? 0 : state[r].copy_first ? 1 : s.n;
    state[r].loops_left = loops;
    for (int i = 0; i < loops; ++i) jobs.push_back({r, i});
  }

  std::mutex mu;
  std::condition_variable to_dispatcher, to_workers;
  std::deque<StepSlot*> queue;   // steps not yet handed to the inner backend
  std::vector<size_t> finished;  // requests whose loops have all ended, not yet reported
  Status error = Status::Ok();   // the first failure; ends the run
  bool abort = false;
  for (size_t r = 0; r < requests.size(); ++r)
    if (state[r].loops_left == 0) finished.push_back(r);

  // Under `mu`: records the first failure and wakes everyone.
  const auto fail = [&](const Status& s) {
    if (error.ok()) error = s;
    abort = true;
    for (StepSlot* slot : queue) slot->got.emplace(Stopped());
    queue.clear();
    to_workers.notify_all();
    to_dispatcher.notify_all();
  };

  // One sample's loop (on a worker thread).
  const auto run_loop = [&](const LoopJob& job) {
    const GenRequest& req = requests[job.req];
    const SamplingSpec& s = req.sampling;
    const int index = s.first_sample + job.i;
    GenSample out;
    out.index = index;
    std::string last_finish = "eos";
    double step_wall = 0, step_seconds = 0;
    int n_steps = 0;
    const Clock::time_point start = Clock::now();
    const agent::GenerateStep step =
        [&](const std::string& transcript, const std::vector<std::string>& stop,
            int64_t max_new_tokens,
            const std::function<void(std::string_view)>&) -> StatusOr<agent::StepOutput> {
      if (max_new_tokens < 1) return agent::StepOutput{};
      const int step_no = n_steps++;
      StepSlot slot;
      slot.request.id = fmt::format("{}#{}.{}", req.id, index, step_no);
      slot.request.prompt = transcript;
      slot.request.sampling.n = 1;
      slot.request.sampling.temperature = s.temperature;
      slot.request.sampling.top_p = s.top_p;
      slot.request.sampling.max_tokens = max_new_tokens;
      slot.request.sampling.stop = stop;
      slot.request.sampling.seed = step_no == 0 ? s.seed : ToolStepSeed(s.seed, step_no);
      slot.request.sampling.first_sample = index;
      const Clock::time_point t0 = Clock::now();
      {
        std::unique_lock<std::mutex> lock(mu);
        if (abort) return Stopped();
        queue.push_back(&slot);
        to_dispatcher.notify_all();
        to_workers.wait(lock, [&] { return slot.got.has_value(); });
      }
      step_wall += Since(t0);
      if (!slot.got->ok()) return slot.got->status();
      GenSample& g = **slot.got;
      if (step_no == 0) out.n_prompt_tokens = g.n_prompt_tokens;
      out.n_tokens += g.n_tokens;
      step_seconds += g.seconds;
      last_finish = g.finish_reason;
      return agent::StepOutput{std::move(g.text), std::move(g.stop_matched), g.n_tokens};
    };
    agent::ToolLoopOptions lo;
    lo.max_rounds = options_.max_rounds;
    lo.max_new_tokens = s.max_tokens;
    lo.stop = s.stop;
    lo.max_output_chars = options_.max_output_chars;
    lo.limits = options_.limits;
    StatusOr<agent::ToolLoopResult> res = agent::RunToolLoop(req.prompt, step, sb_, lo);

    std::lock_guard<std::mutex> lock(mu);
    if (!res.ok()) {
      fail(res.status().WithContext(fmt::format("request '{}' sample {}", req.id, index)));
      return;
    }
    out.text = std::move(res->completion);
    out.stop_matched = res->stop_matched;
    if (!res->stop_matched.empty()) {
      out.finish_reason = "stop";
    } else if (out.n_tokens >= s.max_tokens) {
      out.finish_reason = "length";
    } else if (!res->events.empty() && res->events.back().kind == agent::ToolEvent::Kind::kCode &&
               res->rounds >= options_.max_rounds && last_finish == "stop") {
      out.finish_reason = "rounds";  // a closed block past the last round, left unrun
    } else {
      out.finish_reason = last_finish;
    }
    // The steps' own time plus what the loop spent outside them (programs).
    out.seconds = step_seconds + std::max(0.0, Since(start) - step_wall);
    RequestState& st = state[job.req];
    if (st.copy_first) {
      for (int i = 0; i < s.n; ++i) {
        st.samples[i] = out;
        st.samples[i].index = s.first_sample + i;
        if (i > 0) st.samples[i].n_tokens = 0;  // one loop stands for all: its tokens count once
      }
    } else {
      st.samples[job.i] = std::move(out);
    }
    if (--st.loops_left == 0) {
      finished.push_back(job.req);
      to_dispatcher.notify_all();
    }
  };

  // Reports the requests whose loops have all ended (on the caller's thread).
  const auto report = [&]() -> Status {
    for (;;) {
      size_t r;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (abort) return error;
        if (finished.empty()) return Status::Ok();
        r = finished.front();
        finished.erase(finished.begin());
      }
      Status s = on_done(requests[r], std::move(state[r].samples));
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        fail(s);
        return s;
      }
    }
  };

  std::atomic<size_t> next{0};
  int running = static_cast<int>(std::min<size_t>(jobs.size(), options_.parallel));
  std::vector<std::thread> workers;
  workers.reserve(running);
  for (int w = 0; w < running; ++w) {
    workers.emplace_back([&] {
      for (size_t j = next++; j < jobs.size(); j = next++) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (abort) break;
        }
        run_loop(jobs[j]);
      }
      std::lock_guard<std::mutex> lock(mu);
      --running;
      to_dispatcher.notify_all();
    });
  }

  // The dispatcher: hands the pending steps to the inner backend in one Run
  // call at a time and reports finished requests as they come.
  for (;;) {
    std::vector<StepSlot*> batch;
    {
      std::unique_lock<std::mutex> lock(mu);
      to_dispatcher.wait(
          lock, [&] { return abort || !queue.empty() || !finished.empty() || running == 0; });
      if (abort) break;
      if (queue.empty() && finished.empty()) break;  // running == 0: all loops ended
      if (finished.empty()) {
        batch.assign(queue.begin(), queue.end());
        queue.clear();
      }
    }
    if (batch.empty()) {  // finished requests first
      if (!report().ok()) break;
      continue;
    }
    std::vector<GenRequest> steps;
    std::map<std::string, size_t> by_id;
    // A slot lives on its worker's stack until it is answered: only unanswered ones are touched.
    std::vector<char> answered(batch.size(), 0);
    steps.reserve(batch.size());
    for (size_t k = 0; k < batch.size(); ++k) {
      steps.push_back(batch[k]->request);
      by_id[batch[k]->request.id] = k;
    }
    const Status st =
        inner_.Run(steps, [&](const GenRequest& r, std::vector<GenSample> got) -> Status {
          auto it = by_id.find(r.id);
          if (it == by_id.end() || answered[it->second])
            return InternalError("backend returned an unknown or repeated request " + r.id);
          answered[it->second] = 1;
          {
            std::lock_guard<std::mutex> lock(mu);
            StepSlot* slot = batch[it->second];
            if (got.size() == 1) {
              slot->got.emplace(std::move(got[0]));
            } else {
              slot->got.emplace(InternalError(
                  fmt::format("backend returned {} samples for step {}", got.size(), r.id)));
            }
            to_workers.notify_all();
          }
          return report();
        });
    std::lock_guard<std::mutex> lock(mu);
    for (size_t k = 0; k < batch.size(); ++k) {
      if (answered[k]) continue;
      StepSlot* slot = batch[k];
      slot->got.emplace(
          st.ok() ? InternalError("backend returned no sample for " + slot->request.id) : st);
    }
    to_workers.notify_all();
    if (!st.ok()) fail(st);
  }
  for (std::thread& t : workers) t.join();
  std::lock_guard<std::mutex> lock(mu);
  return error;
}

}  // namespace llemma::eval
