// Progress: what an evaluation reports while it runs, and the stderr
// renderer the CLI uses: a live bar redrawn in place when stderr is a
// terminal, plain lines every `interval` seconds otherwise (logs, nohup).
//
//   StderrProgress bar(/*interval_s=*/30);
//   bar.Start({.task = "gsm8k", .problems_total = 1319, .samples_total = 1319});
//   bar.Update({...});   // after every finished request
//   bar.Finish();
//
//   gsm8k [########............]  540/1319 problems  540/1319 samples  212.4 tok/s  ETA 14m05s
//
// Owned by its caller; not thread-safe (the runner calls it from one thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace llemma::eval {

struct ProgressState {
  std::string task;
  int64_t problems_total = 0, problems_done = 0;
  int64_t samples_total = 0, samples_done = 0;
  int64_t samples_this_session = 0;  // samples generated since Start (for rates and ETA)
  int64_t tokens_this_session = 0;   // tokens generated since Start
  double seconds = 0;                // since Start
};

class Progress {
 public:
  virtual ~Progress() = default;
  virtual void Start(const ProgressState& s) = 0;
  virtual void Update(const ProgressState& s) = 0;
  virtual void Finish(const ProgressState& s) = 0;
};

// One line of progress text (no newline), as both renderers print it.
std::string FormatProgress(const ProgressState& s, bool bar);
// "1h02m", "14m05s", "9s"; "?" for a negative or non-finite value.
std::string FormatDuration(double seconds);

class StderrProgress : public Progress {
 public:
  // tty < 0: detect (isatty(2)); 0: plain lines; 1: live bar.
  explicit StderrProgress(double interval_s = 30.0, int tty = -1);
  void Start(const ProgressState& s) override;
  void Update(const ProgressState& s) override;
  void Finish(const ProgressState& s) override;

 private:
  void Print(const ProgressState& s, bool final);
  bool tty_;
  double interval_s_;
  std::chrono::steady_clock::time_point last_;
  size_t last_width_ = 0;
};

}  // namespace llemma::eval
