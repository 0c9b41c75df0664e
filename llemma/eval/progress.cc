#include "llemma/eval/progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace llemma::eval {

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string FormatProgress(const ProgressState& s, bool bar) {
  std::string out = s.task;
  if (bar) {
    constexpr int kWidth = 20;
    const double frac =
        s.samples_total > 0 ? std::clamp(double(s.samples_done) / s.samples_total, 0.0, 1.0) : 1.0;
    const int filled = static_cast<int>(frac * kWidth);
    out += " [" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "]";
  }
  out += fmt::format(" {}/{} problems  {}/{} samples", s.problems_done, s.problems_total,
                     s.samples_done, s.samples_total);
  if (s.seconds > 0) {
    out += fmt::format("  {:.1f} tok/s", s.tokens_this_session / s.seconds);
    const int64_t left = s.samples_total - s.samples_done;
    if (left > 0 && s.samples_this_session > 0) {
      out += "  ETA " + FormatDuration(left * s.seconds / s.samples_this_session);
    }
  }
  return out;
}

StderrProgress::StderrProgress(double interval_s, int tty)
    : tty_(tty < 0 ? ::isatty(STDERR_FILENO) == 1 : tty == 1), interval_s_(interval_s) {}

void StderrProgress::Print(const ProgressState& s, bool final) {
  const std::string line = FormatProgress(s, tty_);
  if (tty_) {
    std::string padded = line;
    if (padded.size() < last_width_) padded += std::string(last_width_ - padded.size(), ' ');
    last_width_ = line.size();
    std::fprintf(stderr, "\r%s%s", padded.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(stderr, "llemma eval: %s\n", line.c_str());
  }
  std::fflush(stderr);
  last_ = std::chrono::steady_clock::now();
}

void StderrProgress::Start(const ProgressState& s) {
  last_width_ = 0;
  Print(s, false);
}

void StderrProgress::Update(const ProgressState& s) {
  const double since =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - last_).count();
  // The bar redraws at most 10 times a second; plain lines every interval.
  if (since >= (tty_ ? 0.1 : interval_s_)) Print(s, false);
}

void StderrProgress::Finish(const ProgressState& s) { Print(s, true); }

}  // namespace llemma::eval
