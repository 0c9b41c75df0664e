#include "llemma/math/extract.h"

#include <cstdint>

#include "llemma/math/text_util.h"

namespace llemma::math {
namespace {

using text::IsAlpha;
using text::IsDigit;
using text::Lower;

constexpr std::string_view kAsciiWhitespace = " \t\n\r\x0b\x0c";

bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Bytes of the Python-whitespace character at s[i], 0 if there is none.
size_t WhitespaceLen(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (kAsciiWhitespace.find(static_cast<char>(c)) != std::string_view::npos) return 1;
  if (c >= 0x1C && c <= 0x1F) return 1;  // file, group, record, unit separators
  const size_t len = PyCharLen(s, i);
  if (len == 2) {
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    return c == 0xC2 && (c1 == 0x85 || c1 == 0xA0) ? 2 : 0;  // U+0085, U+00A0
  }
  if (len == 3) {
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    const auto c2 = static_cast<unsigned char>(s[i + 2]);
    if (c == 0xE1) return c1 == 0x9A && c2 == 0x80 ? 3 : 0;  // U+1680
    if (c == 0xE3) return c1 == 0x80 && c2 == 0x80 ? 3 : 0;  // U+3000
    if (c == 0xE2 && c1 == 0x80)                             // U+2000-200A, 2028, 2029, 202F
      return (c2 <= 0x8A || c2 == 0xA8 || c2 == 0xA9 || c2 == 0xAF) ? 3 : 0;
    if (c == 0xE2 && c1 == 0x81) return c2 == 0x9F ? 3 : 0;  // U+205F
  }
  return 0;
}

// "Final Answer: The final answer is" etc. appear once per line at most in
// practice, but a hostile input may repeat them: every scan below is bounded
// so the total work stays linear.

// The number NumberAt reads at s[i] (see ExtractGsm8k), canonicalized.
std::optional<std::string> NumberAt(std::string_view s, size_t i) {
  auto skip_decoration = [&] {
    while (i < s.size()) {
      if (s[i] == ' ' || s[i] == '*' || s[i] == '$') {
        ++i;
      } else if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == '$') {
        i += 2;
      } else {
        break;
      }
    }
  };
  skip_decoration();
  std::string out;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
    if (s[i] == '-') out.push_back('-');
    ++i;
    skip_decoration();                            // "-$5"
  } else if (s.substr(i, 3) == "\xE2\x88\x92") {  // U+2212 MINUS SIGN
    out.push_back('-');
    i += 3;
    skip_decoration();
  }
  const size_t int_start = i;
  while (i < s.size() && IsDigit(s[i])) out.push_back(s[i++]);
  const size_t lead = i - int_start;
  if (lead == 0) {
    if (!(i + 1 < s.size() && s[i] == '.' && IsDigit(s[i + 1]))) return std::nullopt;
    out.push_back('0');  // ".5" → "0.5"
  }
  // Thousands groups ",ddd" (not followed by a fourth digit), only after a
  // leading run of 1-3 digits: "1,234,567" but not "1234,567" or "1,23".
  if (lead >= 1 && lead <= 3) {
    while (i + 3 < s.size() && s[i] == ',' && IsDigit(s[i + 1]) && IsDigit(s[i + 2]) &&
           IsDigit(s[i + 3]) && !(i + 4 < s.size() && IsDigit(s[i + 4]))) {
      out.append(s.substr(i + 1, 3));
      i += 4;
    }
  }
  if (i + 1 < s.size() && s[i] == '.' && IsDigit(s[i + 1])) {
    out.push_back('.');
    ++i;
    while (i < s.size() && IsDigit(s[i])) out.push_back(s[i++]);
  }
  return out;
}

// One enclosing math delimiter pair removed: $…$, $$…$$, \(…\), \[…\], when
// the inside holds no further '$' (so "$a$ and $b$" stays as it is).
std::string UnwrapMath(std::string s) {
  struct Pair {
    std::string_view open, close;
  };
  for (const Pair& d : {Pair{"$$", "$$"}, Pair{"$", "$"}, Pair{"\\(", "\\)"}, Pair{"\\[", "\\]"}}) {
    if (s.size() < d.open.size() + d.close.size()) continue;
    if (s.compare(0, d.open.size(), d.open) != 0) continue;
    if (s.compare(s.size() - d.close.size(), d.close.size(), d.close) != 0) continue;
    std::string_view inner(s);
    inner = inner.substr(d.open.size(), s.size() - d.open.size() - d.close.size());
    if (inner.find('$') != std::string_view::npos) continue;
    return PyStrip(inner);
  }
  return s;
}

// The answer of a "final answer is" sentence whose answer text starts at
// `start`: up to the line break or "I hope it is correct", cleaned.
std::string FinalAnswerAt(std::string_view completion, std::string_view low, size_t start) {
  constexpr std::string_view kHope = "i hope it is correct";
  size_t end = start;
  while (end < completion.size() && completion[end] != '\n' &&
         low.compare(end, kHope.size(), kHope) != 0)
    ++end;
  std::string a = PyStrip(completion.substr(start, end - start));
  if (!a.empty() && a[0] == ':')
    a = PyStrip(std::string_view(a).substr(1));  // "final answer is: 5"
  a = PyRstrip(a, " .\t\r");                     // the sentence's full stop
  a = UnwrapMath(std::move(a));
  a = PyRstrip(a, " .");  // "$5.$"
  if (a.find("\\boxed") != std::string::npos || a.find("\\fbox") != std::string::npos) {
    if (auto b = LastBoxedAnswer(a)) return PyStrip(*b);
  }
  return a;
}

// The choice letter written at s[i] (see ExtractChoice), if any.
std::optional<char> LetterAt(std::string_view s, size_t i) {
  for (int guard = 0; guard < 16 && i < s.size(); ++guard) {
    const char c = s[i];
    if (c == ' ' || c == '\t' || c == '$' || c == '(' || c == '[' || c == '{' || c == ':' ||
        c == '*' || c == '\'' || c == '"') {
      ++i;
      continue;
    }
    if (c == '\\') {  // \text, \textbf, \mathrm, \boxed, \( …
      ++i;
      while (i < s.size() && IsAlpha(s[i])) ++i;
      continue;
    }
    bool word = false;
    for (std::string_view w : {std::string_view("option"), std::string_view("choice")}) {
      if (i + w.size() < s.size() && Lower(s.substr(i, w.size())) == w &&
          !IsAlpha(s[i + w.size()])) {
        i += w.size();
        word = true;
        break;
      }
    }
    if (!word) break;
  }
  if (i >= s.size() || s[i] < 'A' || s[i] > 'E') return std::nullopt;
  if (i + 1 < s.size() && IsAlpha(s[i + 1])) return std::nullopt;  // a word such as "Alice"
  return s[i];
}

}  // namespace

// ---------------------------------------------------------------------------
// Python string semantics.

size_t PyCharLen(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  auto cont = [&](size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    if (i + k >= s.size()) return false;
    const auto b = static_cast<unsigned char>(s[i + k]);
    return b >= lo && b <= hi;
  };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 1;
  if (c >= 0xE0 && c <= 0xEF) {
    // E0 needs A0-BF next (no overlong forms), ED needs 80-9F (no surrogates).
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return cont(1, lo, hi) && cont(2) ? 3 : 1;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 1;
  }
  return 1;
}

std::string PyStrip(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b) {
    const size_t w = WhitespaceLen(s, a);
    if (w == 0 || a + w > b) break;
    a += w;
  }
  while (b > a) {
    // The character ending at b: one byte, or a 2-/3-byte sequence whose lead
    // byte sits at b-2 / b-3 (whitespace never takes 4 bytes).
    size_t w = 0;
    for (size_t len = 1; len <= 3 && len <= b - a && w == 0; ++len) {
      const size_t start = b - len;
      if (len > 1 && IsContinuation(static_cast<unsigned char>(s[start]))) continue;
      if (PyCharLen(s, start) == len && WhitespaceLen(s, start) == len) w = len;
    }
    if (w == 0) break;
    b -= w;
  }
  return std::string(s.substr(a, b - a));
}

std::string PyLstrip(std::string_view s, std::string_view chars) {
  size_t a = 0;
  while (a < s.size() && chars.find(s[a]) != std::string_view::npos) ++a;
  return std::string(s.substr(a));
}

std::string PyRstrip(std::string_view s, std::string_view chars) {
  size_t b = s.size();
  while (b > 0 && chars.find(s[b - 1]) != std::string_view::npos) --b;
  return std::string(s.substr(0, b));
}

std::string PyStrip(std::string_view s, std::string_view chars) {
  return PyLstrip(PyRstrip(s, chars), chars);
}

// ---------------------------------------------------------------------------
// \boxed{}.

std::optional<std::string> LastBoxedOnlyString(std::string_view text) {
  constexpr std::string_view kBoxedSpace = "\\boxed ";
  // "\boxed " (with a space) anywhere wins: the text after its last occurrence,
  // up to the next '$' (Python: s.split("\\boxed ")[-1].split("$")[0]).
  const size_t space = text.rfind(kBoxedSpace);
  if (space != std::string_view::npos) {
    const std::string_view rest = text.substr(space + kBoxedSpace.size());
    return std::string(kBoxedSpace) + std::string(rest.substr(0, rest.find('$')));
  }
  size_t idx = text.rfind("\\boxed");
  if (idx == std::string_view::npos) idx = text.rfind("\\fbox");
  if (idx == std::string_view::npos) return std::nullopt;
  // Count braces from the command on; the first '}' that brings the count to
  // exactly zero closes the group (a '}' before any '{' makes it negative).
  int64_t depth = 0;
  for (size_t i = idx; i < text.size(); ++i) {
    if (text[i] == '{') {
      ++depth;
    } else if (text[i] == '}' && --depth == 0) {
      return std::string(text.substr(idx, i - idx + 1));
    }
  }
  return std::nullopt;
}

std::optional<std::string> RemoveBoxed(std::string_view s) {
  constexpr std::string_view kBoxedSpace = "\\boxed ";
  if (s.substr(0, kBoxedSpace.size()) == kBoxedSpace)
    return std::string(s.substr(kBoxedSpace.size()));
  for (std::string_view open : {std::string_view("\\boxed{"), std::string_view("\\fbox{")}) {
    if (s.size() > open.size() && s.substr(0, open.size()) == open && s.back() == '}')
      return std::string(s.substr(open.size(), s.size() - open.size() - 1));
  }
  return std::nullopt;
}

std::optional<std::string> LastBoxedAnswer(std::string_view text) {
  const std::optional<std::string> boxed = LastBoxedOnlyString(text);
  if (!boxed) return std::nullopt;
  return RemoveBoxed(*boxed);
}

// ---------------------------------------------------------------------------
// MATH / OCW.

std::optional<std::string> ExtractMinervaCompat(std::string_view completion, bool ocw) {
  const std::string text = std::string(completion) + "I hope it is correct.";
  const std::string_view prefix =
      ocw ? "Final answer: The final answer is" : "Final Answer: The final answer is";
  constexpr std::string_view kHope = " I hope it is correct";  // then one more '.' (any character)
  size_t p = 0;
  while ((p = text.find(prefix, p)) != std::string::npos) {
    const size_t q = p + prefix.size();
    size_t line_end = text.find('\n', q);
    if (line_end == std::string::npos) line_end = text.size();
    // Lazy (.*?): the first character k (the regex' '.') followed by kHope and
    // one more character, all before the line break.
    for (size_t k = q; k < line_end; k += PyCharLen(text, k)) {
      const size_t h = k + PyCharLen(text, k);
      if (text.compare(h, kHope.size(), kHope) == 0 && h + kHope.size() < line_end)
        return PyStrip(std::string_view(text).substr(q, k - q));
    }
    // A later prefix on this line would search a part of the same line.
    p = line_end;
  }
  return std::nullopt;
}

std::optional<std::string> ExtractMathAnswer(std::string_view completion) {
  constexpr std::string_view kCue = "final answer is";
  const std::string low = Lower(completion);
  size_t p = low.rfind(kCue);
  while (p != std::string::npos) {
    std::string a = FinalAnswerAt(completion, low, p + kCue.size());
    if (!a.empty()) return a;
    if (p == 0) break;
    p = low.rfind(kCue, p - 1);
  }
  return LastBoxedAnswer(completion);
}

// ---------------------------------------------------------------------------
// GSM8k.

std::optional<std::string> ExtractGsm8kCompat(std::string_view completion) {
  constexpr std::string_view kCue = "The answer is ";
  for (size_t p = completion.find(kCue); p != std::string_view::npos;
       p = completion.find(kCue, p + 1)) {
    size_t i = p + kCue.size();
    const size_t start = i;
    while (i < completion.size() && IsDigit(completion[i])) ++i;
    if (i > start) return std::string(completion.substr(start, i - start));
  }
  return std::nullopt;
}

std::optional<std::string> ExtractGsm8kReference(std::string_view answer) {
  for (size_t p = answer.find("#### "); p != std::string_view::npos;
       p = answer.find("#### ", p + 1)) {
    size_t i = p + 5;
    // \-? is tried first; without a body after it the regex backtracks, but
    // [0-9.,]+ cannot start at '-', so this position fails either way.
    std::string out;
    if (i < answer.size() && answer[i] == '-') out.push_back(answer[i++]);
    const size_t body = i;
    while (i < answer.size() && (IsDigit(answer[i]) || answer[i] == '.' || answer[i] == ',')) {
      if (answer[i] != ',') out.push_back(answer[i]);
      ++i;
    }
    if (i > body) return out;
  }
  return std::nullopt;
}

std::optional<std::string> ExtractGsm8k(std::string_view completion) {
  constexpr std::string_view kCue = "the answer is";
  const std::string low = Lower(completion);
  for (size_t p = low.find(kCue); p != std::string::npos; p = low.find(kCue, p + 1)) {
    size_t i = p + kCue.size();
    if (i < low.size() && low[i] == ':') ++i;
    if (std::optional<std::string> n = NumberAt(completion, i)) return n;
  }
  for (size_t p = completion.find("####"); p != std::string_view::npos;
       p = completion.find("####", p + 1)) {
    if (std::optional<std::string> n = NumberAt(completion, p + 4)) return n;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Multiple choice.

std::optional<std::string> ExtractChoiceCompat(std::string_view completion) {
  constexpr std::string_view kPrefix = "Final Answer: The final answer is (";
  for (size_t p = completion.find(kPrefix); p != std::string_view::npos;
       p = completion.find(kPrefix, p + 1)) {
    const size_t i = p + kPrefix.size();
    // [ABCD], ')', then the regex' trailing '.': any one character but '\n'.
    if (i + 2 < completion.size() && completion[i] >= 'A' && completion[i] <= 'D' &&
        completion[i + 1] == ')' && completion[i + 2] != '\n') {
      const std::string_view match = completion.substr(p, i + 2 + PyCharLen(completion, i + 2) - p);
      return PyRstrip(PyLstrip(match, "Final Answer: The final answer is "),
                      ". I hope it is correct.");
    }
  }
  return std::nullopt;
}

std::optional<char> ExtractChoice(std::string_view completion) {
  const std::string low = Lower(completion);
  for (std::string_view cue : {std::string_view("final answer is"), std::string_view("answer is"),
                               std::string_view("answer:")}) {
    // Occurrences from the last to the first; the last one with a letter wins.
    for (size_t p = low.rfind(cue); p != std::string::npos;
         p = p == 0 ? std::string::npos : low.rfind(cue, p - 1)) {
      if (std::optional<char> c = LetterAt(completion, p + cue.size())) return c;
    }
  }
  return std::nullopt;
}

}  // namespace llemma::math
