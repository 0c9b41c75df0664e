#include "llemma/math/extract.h"

#include <cctype>

#include "llemma/math/text_util.h"

namespace llemma::math {
namespace {

using text::IsDigit;
using text::Lower;


}  // namespace

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

std::string PyStrip(std::string_view s, std::string_view chars) { return PyRstrip(PyLstrip(s, chars), chars); }

std::optional<std::string> LastBoxedOnlyString(std::string_view text) {
  const size_t space = text.rfind("\\boxed ");
  if (space != std::string_view::npos) {
    const size_t start = space + 7;
    const size_t dollar = text.find('$', start);
    return "\\boxed " + std::string(text.substr(start, dollar == std::string_view::npos ? std::string_view::npos
                                                                                          : dollar - start));
  }
  size_t idx = text.rfind("\\boxed");
  if (idx == std::string_view::npos) idx = text.rfind("\\fbox");
  if (idx == std::string_view::npos) return std::nullopt;
  // From the command, the first '{' opens the group; the brace that brings
  // the depth back to zero closes it.
  int depth = 0;
  for (size_t i = idx; i < text.size(); ++i) {
    if (text[i] == '{') ++depth;
    if (text[i] == '}') {
      --depth;
      if (depth == 0) return std::string(text.substr(idx, i - idx + 1));
    }
  }
  return std::nullopt;
}

std::optional<std::string> RemoveBoxed(std::string_view s) {
  if (s.substr(0, 7) == "\\boxed ") return std::string(s.substr(7));
  for (std::string_view left : {std::string_view("\\boxed{"), std::string_view("\\fbox{")}) {
    if (s.size() >= left.size() + 1 && s.substr(0, left.size()) == left && s.back() == '}')
      return std::string(s.substr(left.size(), s.size() - left.size() - 1));
  }
  return std::nullopt;
}

std::optional<std::string> LastBoxedAnswer(std::string_view text) {
  const auto b = LastBoxedOnlyString(text);
  if (!b) return std::nullopt;
  return RemoveBoxed(*b);
}

std::optional<std::string> ExtractMinervaCompat(std::string_view completion, bool ocw) {
  const std::string text = std::string(completion) + "I hope it is correct.";
  const std::string_view prefix = ocw ? "Final answer: The final answer is" : "Final Answer: The final answer is";
  const std::string_view hope = " I hope it is correct";
  size_t p = 0;
  while ((p = text.find(prefix, p)) != std::string::npos) {
    const size_t q = p + prefix.size();
    // (.*?) then '.' then " I hope it is correct" then '.': none of the dots
    // matches '\n', so the match ends within this line.
    for (size_t k = q; k < text.size() && text[k] != '\n'; ++k) {
      if (text.compare(k + 1, hope.size(), hope) == 0 && k + 1 + hope.size() < text.size() &&
          text[k + 1 + hope.size()] != '\n') {
        return PyStrip(std::string_view(text).substr(q, k - q));
      }
    }
    ++p;
  }
  return std::nullopt;
}

std::optional<std::string> ExtractMathAnswer(std::string_view completion) {
  const std::string low = Lower(completion);
  const size_t p = low.rfind("final answer is");
  if (p != std::string::npos) {
    size_t start = p + 15;
    size_t end = completion.find('\n', start);
    if (end == std::string_view::npos) end = completion.size();
    const size_t hope = low.find("i hope it is correct", start);
    if (hope != std::string::npos && hope < end) end = hope;
    std::string a = PyStrip(completion.substr(start, end - start));
    if (!a.empty() && a[0] == ':') a = PyStrip(std::string_view(a).substr(1));
    a = PyRstrip(a, " .");
    if (a.size() >= 2 && a.front() == '$' && a.back() == '$') a = PyStrip(std::string_view(a).substr(1, a.size() - 2), " $");
    if (auto b = LastBoxedAnswer(a)) return *b;
    if (!a.empty()) return a;
  }
  return LastBoxedAnswer(completion);
}

std::optional<std::string> ExtractGsm8kCompat(std::string_view completion) {
  const std::string_view cue = "The answer is ";
  size_t p = 0;
  while ((p = completion.find(cue, p)) != std::string_view::npos) {
    size_t i = p + cue.size();
    std::string digits;
    while (i < completion.size() && IsDigit(completion[i])) digits.push_back(completion[i++]);
    if (!digits.empty()) return digits;
    ++p;
  }
  return std::nullopt;
}

std::optional<std::string> ExtractGsm8kReference(std::string_view answer) {
  size_t p = 0;
  while ((p = answer.find("#### ", p)) != std::string_view::npos) {
    size_t i = p + 5;
    std::string out;
    if (i < answer.size() && answer[i] == '-') out.push_back(answer[i++]);
    const size_t body = i;
    while (i < answer.size() && (IsDigit(answer[i]) || answer[i] == '.' || answer[i] == ',')) {
      if (answer[i] != ',') out.push_back(answer[i]);
      ++i;
    }
    if (i > body) return out;
    ++p;
  }
  return std::nullopt;
}

namespace {
// A number at s[i]: optional "$" / "\$" / sign, digits with optional
// thousands groups, optional decimals. Returns the canonical text.
std::optional<std::string> NumberAt(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '$' || s[i] == '\\')) {
    if (s[i] == '\\' && !(i + 1 < s.size() && s[i + 1] == '$')) return std::nullopt;
    ++i;
  }
  std::string out;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
    if (s[i] == '-') out.push_back('-');
    ++i;
    while (i < s.size() && (s[i] == '$' || s[i] == '\\')) ++i;  // "-$5"
  }
  const size_t start = i;
  while (i < s.size() && IsDigit(s[i])) out.push_back(s[i++]);
  if (i == start) {
    if (i + 1 < s.size() && s[i] == '.' && IsDigit(s[i + 1])) {
      out.push_back('0');
    } else {
      return std::nullopt;
    }
  }
  const size_t lead = i - start;
  // Thousands groups: ",ddd" repeated, only after 1-3 leading digits.
  if (lead >= 1 && lead <= 3) {
    while (i + 3 < s.size() && s[i] == ',' &&
           IsDigit(s[i + 1]) && IsDigit(s[i + 2]) && IsDigit(s[i + 3]) && !(i + 4 < s.size() && IsDigit(s[i + 4]))) {
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
}  // namespace

std::optional<std::string> ExtractGsm8k(std::string_view completion) {
  const std::string low = Lower(completion);
  size_t p = 0;
  while ((p = low.find("the answer is", p)) != std::string::npos) {
    size_t i = p + 13;
    if (i < low.size() && low[i] == ':') ++i;
    if (auto n = NumberAt(completion, i)) return n;
    ++p;
  }
  p = completion.find("####");
  if (p != std::string_view::npos) return NumberAt(completion, p + 4);
  return std::nullopt;
}

std::optional<std::string> ExtractChoiceCompat(std::string_view completion) {
  const std::string_view prefix = "Final Answer: The final answer is (";
  size_t p = 0;
  while ((p = completion.find(prefix, p)) != std::string_view::npos) {
    const size_t i = p + prefix.size();
    if (i + 2 < completion.size() && completion[i] >= 'A' && completion[i] <= 'D' && completion[i + 1] == ')' &&
        completion[i + 2] != '\n') {
      const std::string_view match = completion.substr(p, prefix.size() + 3);
      return PyRstrip(PyLstrip(match, "Final Answer: The final answer is "), ". I hope it is correct.");
    }
    ++p;
  }
  return std::nullopt;
}

namespace {
std::optional<char> LetterAt(std::string_view s, size_t i) {
  // Skip spaces, '$', '(', '{', "\text", "\textbf", "\mathrm", "option", "choice".
  for (int guard = 0; guard < 8 && i < s.size(); ++guard) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '$' || s[i] == '(' || s[i] == '{' || s[i] == ':' || s[i] == '*'))
      ++i;
    if (i < s.size() && s[i] == '\\') {
      ++i;
      while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
      continue;
    }
    break;
  }
  if (i >= s.size() || s[i] < 'A' || s[i] > 'E') return std::nullopt;
  if (i + 1 < s.size() && std::isalpha(static_cast<unsigned char>(s[i + 1]))) return std::nullopt;  // a word
  return s[i];
}
}  // namespace

std::optional<char> ExtractChoice(std::string_view completion) {
  const std::string low = Lower(completion);
  for (std::string_view cue : {std::string_view("final answer is"), std::string_view("answer is"),
                               std::string_view("answer:")}) {
    const size_t p = low.rfind(cue);
    if (p == std::string::npos) continue;
    if (auto c = LetterAt(completion, p + cue.size())) return c;
  }
  return std::nullopt;
}

}  // namespace llemma::math
