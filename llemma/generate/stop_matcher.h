// StopMatcher: finds stop strings in generated text across token boundaries.
// Text goes in as it is decoded; what comes out is safe to show: any tail
// that could still grow into a stop string is held back, and once a stop
// string appears, the text before it is released and the rest is dropped.
// One per sequence; not thread-safe.
//
//   StopMatcher stops({"\n\n", "I hope it is correct."});
//   std::cout << stops.Push(piece_text);
//   if (stops.stopped()) ...;
//   std::cout << stops.Flush();  // at the end of generation
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace llemma {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  // Returns the text that can be emitted now. After stopped(), returns "".
  std::string Push(std::string_view text);
  // Releases held-back text at the end of generation (if no stop matched).
  std::string Flush();
  bool stopped() const { return stopped_; }
  // The stop string that matched (earliest occurrence; the longest when two start together).
  const std::string& matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
  std::string matched_;
};

}  // namespace llemma
