#include "llemma/math/check.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "llemma/math/extract.h"
#include "llemma/math/latex.h"
#include "llemma/math/minerva.h"
#include "llemma/math/text_util.h"

namespace llemma::math {
namespace {

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
using text::IsSpace;
using text::Lower;
using text::Trim;

// Python's float(): the whole stripped string is one floating literal.
std::optional<double> PythonFloat(std::string_view s) {
  const std::string t = Trim(s);
  if (t.empty()) return std::nullopt;
  std::string u;
  for (size_t i = 0; i < t.size(); ++i) {  // digits may be grouped with single underscores
    if (t[i] == '_' && i > 0 && i + 1 < t.size() &&
        std::isdigit(static_cast<unsigned char>(t[i - 1])) &&
        std::isdigit(static_cast<unsigned char>(t[i + 1])))
      continue;
    u.push_back(t[i]);
  }
  const std::string l = Lower(u);
  const std::string body = (!l.empty() && (l[0] == '+' || l[0] == '-')) ? l.substr(1) : l;
  if (body == "inf" || body == "infinity" || body == "nan") return std::strtod(l.c_str(), nullptr);
  if (body.find_first_not_of("0123456789.e+-") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(u.c_str(), &end);
  if (end != u.c_str() + u.size()) return std::nullopt;
  return v;
}

std::optional<char> ChoiceLetter(std::string_view field) {
  const std::string t = Trim(field);
  if (t.size() == 1 && t[0] >= 'A' && t[0] <= 'E') return t[0];
  if (t.size() == 1 && t[0] >= '0' && t[0] <= '4') return static_cast<char>('A' + (t[0] - '0'));
  if (t.size() == 3 && t[0] == '(' && t[2] == ')' && t[1] >= 'A' && t[1] <= 'E') return t[1];
  if (t.size() == 2 && t[1] == ')' && t[0] >= 'A' && t[0] <= 'E') return t[0];
  return std::nullopt;
}

// A LaTeX answer that is a plain number, for OCW's numeric references.
std::optional<double> LatexNumber(std::string_view s) {
  const Answer a = ParseAnswer(s);
  if (a.kind != Answer::Kind::kExpr || !IsConstant(a.expr)) return std::nullopt;
  const auto v = Evaluate(a.expr, {});
  if (v.imag() != 0 || !std::isfinite(static_cast<double>(v.real()))) return std::nullopt;
  return static_cast<double>(v.real());
}

Verdict Bool(bool b, std::string why) { return {b, false, std::move(why)}; }

}  // namespace

std::optional<Task> ParseTask(std::string_view n) {
  if (n == "math" || StartsWith(n, "math:") || StartsWith(n, "minerva_math")) return Task::kMath;
  if (n == "gsm8k") return Task::kGsm8k;
  if (n == "ocw" || n == "ocw_courses") return Task::kOcw;
  if (n == "mmlu_stem" || StartsWith(n, "mmlu_stem:") || StartsWith(n, "minerva-hendrycksTest"))
    return Task::kMmluStem;
  if (n == "sat" || n == "math_sat_cot") return Task::kSat;
  return std::nullopt;
}

std::string_view TaskName(Task t) {
  switch (t) {
    case Task::kMath:
      return "math";
    case Task::kGsm8k:
      return "gsm8k";
    case Task::kOcw:
      return "ocw";
    case Task::kMmluStem:
      return "mmlu_stem";
    case Task::kSat:
      return "sat";
  }
  return "?";
}

std::optional<Mode> ParseMode(std::string_view n) {
  if (n == "default") return Mode::kDefault;
  if (n == "llemma" || n == "compat") return Mode::kCompatLlemma;
  return std::nullopt;
}

std::string ReferenceAnswer(Task task, Mode mode, std::string_view field) {
  switch (task) {
    case Task::kMath: {
      // A full solution carries its answer in the last \boxed{}; a bare answer is used as it is.
      std::optional<std::string> boxed = LastBoxedAnswer(field);
      const std::string raw = boxed ? *boxed : Trim(field);
      return mode == Mode::kCompatLlemma ? MinervaNormalizeTex(raw) : raw;
    }
    case Task::kGsm8k: {
      std::optional<std::string> r = ExtractGsm8kReference(field);
      return r ? *r : Trim(field);
    }
    case Task::kOcw:
      return Trim(field);
    case Task::kMmluStem:
    case Task::kSat: {
      std::optional<char> c = ChoiceLetter(field);
      if (!c) return Trim(field);
      return mode == Mode::kCompatLlemma ? std::string("(") + *c + ")" : std::string(1, *c);
    }
  }
  return Trim(field);
}

std::optional<std::string> ExtractAnswer(Task task, Mode mode, std::string_view completion) {
  const bool compat = mode == Mode::kCompatLlemma;
  switch (task) {
    case Task::kMath: {
      if (compat) {
        std::optional<std::string> a = ExtractMinervaCompat(completion, /*ocw=*/false);
        if (!a) return std::nullopt;
        return MinervaNormalizeTex(*a);
      }
      return ExtractMathAnswer(completion);
    }
    case Task::kGsm8k:
      return compat ? ExtractGsm8kCompat(completion) : ExtractGsm8k(completion);
    case Task::kOcw: {
      if (compat) return ExtractMinervaCompat(completion, /*ocw=*/true);
      return ExtractMathAnswer(completion);
    }
    case Task::kMmluStem:
    case Task::kSat: {
      if (compat) return ExtractChoiceCompat(completion);
      std::optional<char> c = ExtractChoice(completion);
      if (!c) return std::nullopt;
      return std::string(1, *c);
    }
  }
  return std::nullopt;
}

Verdict Judge(Task task, Mode mode, std::string_view reference, std::string_view answer,
              const CheckOptions& options) {
  if (mode == Mode::kCompatLlemma) {
    switch (task) {
      case Task::kMath:  // bug B1: is_tex_equiv is exact match only at the pinned commit
      case Task::kGsm8k:
      case Task::kMmluStem:
      case Task::kSat:
        return Bool(reference == answer, reference == answer ? "same string" : "different strings");
      case Task::kOcw: {
        if (const std::optional<double> ref = PythonFloat(reference)) {
          const std::optional<double> got = OcwNormalizeNumericCompat(answer, LatexNumber);
          if (!got) return Bool(false, "answer is not a number ([invalidanswer])");
          const bool eq = OcwNumericEqualityCompat(*got, *ref);
          return Bool(eq, eq ? "numerically equal (harness rule)"
                             : "numerically different (harness rule, bug B2)");
        }
        if (reference.find('=') != std::string_view::npos)
          return Bool(false, "equation answers always fail in the harness (bug B3)");
        const bool eq = MinervaNormalizeTex(reference) == MinervaNormalizeTex(answer);
        return Bool(eq, eq ? "same normalized string" : "different normalized strings (bug B1)");
      }
    }
  }
  switch (task) {
    case Task::kMmluStem:
    case Task::kSat:
      return Bool(reference == answer, reference == answer ? "same choice" : "different choice");
    case Task::kOcw: {
      // The intended OCW rule: numbers within 1% of the reference.
      if (const std::optional<double> ref = LatexNumber(reference)) {
        const Answer a = ParseAnswer(answer);
        if (a.kind == Answer::Kind::kExpr && IsConstant(a.expr)) {
          const auto v = Evaluate(a.expr, {});
          if (v.imag() == 0 && std::isfinite(static_cast<double>(v.real()))) {
            const double got = static_cast<double>(v.real());
            const double tol = 0.01 * std::abs(*ref);
            if (std::abs(got - *ref) <= tol || got == *ref)
              return Bool(true, "within 1% of the reference");
          }
        }
      }
      return CheckEquivalent(reference, answer, options);
    }
    default:
      return CheckEquivalent(reference, answer, options);
  }
}

ItemScore ScoreItem(Task task, Mode mode, std::string_view reference_field,
                    const std::vector<std::string>& completions, const CheckOptions& options) {
  ItemScore s;
  s.reference = ReferenceAnswer(task, mode, reference_field);
  for (const std::string& c : completions) s.answers.push_back(ExtractAnswer(task, mode, c));
  VoteRules rules;
  // Harness: MATH and MMLU/SAT pass invalid_answer (pass_rate over all k);
  // GSM8k and OCW drop invalid samples first (pass_rate over the valid ones).
  rules.pass_rate_over_all_samples = !(task == Task::kGsm8k || task == Task::kOcw);
  if (mode == Mode::kCompatLlemma) {
    rules.remember_merged_keys = false;
    rules.equiv = [task, mode, &options](const std::string& a, const std::string& b) {
      return Judge(task, mode, a, b, options).equivalent;
    };
  } else {
    rules.key = [](const std::string& a) { return AnswerKey(ParseAnswer(a)); };
    rules.equiv = [task, mode, &options](const std::string& a, const std::string& b) {
      return Judge(task, mode, a, b, options).equivalent;
    };
  }
  s.vote = MajorityVote(s.answers, s.reference, rules);
  return s;
}

// ---------------------------------------------------------------------------
// Free-form extraction.

namespace {

size_t FindCaseInsensitive(std::string_view hay, std::string_view needle, size_t from = 0) {
  const std::string h = Lower(hay), n = Lower(needle);
  return h.find(n, from);
}

size_t RFindCaseInsensitive(std::string_view hay, std::string_view needle) {
  const std::string h = Lower(hay), n = Lower(needle);
  return h.rfind(n);
}

std::string UpToSentenceEnd(std::string_view s) {
  size_t end = s.size();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n') {
      end = i;
      break;
    }
    if (s[i] == '.' && (i + 1 == s.size() || IsSpace(s[i + 1])) &&
        !(i > 0 && std::isdigit(static_cast<unsigned char>(s[i - 1])) && i + 1 < s.size() &&
          std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      // "$x$." ends the sentence; "3.5" does not.
      end = i;
      break;
    }
  }
  return Trim(s.substr(0, end));
}

// Last $…$ / $$…$$ / \(…\) / \[…\] span; inline spans may not cross lines.
std::optional<std::string> LastMathSpan(std::string_view s) {
  std::optional<std::string> best;
  size_t best_pos = 0;
  auto consider = [&](size_t pos, std::string content) {
    if (!best || pos >= best_pos) {
      best = Trim(content);
      best_pos = pos;
    }
  };
  for (auto [open, close, inline_only] :
       {std::tuple<const char*, const char*, bool>{"\\[", "\\]", false},
        {"\\(", "\\)", true},
        {"$$", "$$", false}}) {
    size_t i = 0;
    while ((i = s.find(open, i)) != std::string_view::npos) {
      const size_t j = s.find(close, i + 2);
      if (j == std::string_view::npos) break;
      const std::string_view content = s.substr(i + 2, j - i - 2);
      if (!(inline_only && content.find('\n') != std::string_view::npos))
        consider(i, std::string(content));
      i = j + 2;
    }
  }
  // Single-dollar spans, pairing left to right and skipping "$$".
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '$' || (i > 0 && s[i - 1] == '\\')) {
      ++i;
      continue;
    }
    if (i + 1 < s.size() && s[i + 1] == '$') {
      const size_t j = s.find("$$", i + 2);
      if (j == std::string_view::npos) break;
      i = j + 2;
      continue;
    }
    size_t j = i + 1;
    while (j < s.size() && !(s[j] == '$' && s[j - 1] != '\\')) ++j;
    if (j >= s.size()) break;
    const std::string_view content = s.substr(i + 1, j - i - 1);
    if (content.find('\n') == std::string_view::npos) consider(i, std::string(content));
    i = j + 1;
  }
  return best;
}

std::optional<std::string> LastNumber(std::string_view s) {
  std::optional<std::string> last;
  size_t i = 0;
  while (i < s.size()) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) {
      ++i;
      continue;
    }
    // A letter glued to the digits ("AZYUK2A") is not a number.
    const bool glued_before = i > 0 && std::isalpha(static_cast<unsigned char>(s[i - 1]));
    size_t start = i;
    if (start > 0 && s[start - 1] == '-') --start;
    std::string num = s[start] == '-' ? "-" : "";
    while (i < s.size()) {
      if (std::isdigit(static_cast<unsigned char>(s[i]))) {
        num.push_back(s[i++]);
      } else if (s[i] == ',' && i + 3 < s.size() &&
                 std::isdigit(static_cast<unsigned char>(s[i + 1])) &&
                 std::isdigit(static_cast<unsigned char>(s[i + 2])) &&
                 std::isdigit(static_cast<unsigned char>(s[i + 3])) &&
                 (i + 4 >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i + 4])))) {
        i += 1;  // thousands separator
      } else if (s[i] == '.' && i + 1 < s.size() &&
                 std::isdigit(static_cast<unsigned char>(s[i + 1])) &&
                 num.find('.') == std::string::npos) {
        num.push_back(s[i++]);
      } else if (s[i] == '/' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])) &&
                 num.find_first_of("./") == std::string::npos) {
        num.push_back(s[i++]);  // a fraction "2/3"
      } else {
        break;
      }
    }
    if (!glued_before) last = num;  // units may follow ("1,000.99m")
  }
  return last;
}

// How many numbers LastNumber would see in s.
int CountNumbers(std::string_view s) {
  int n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool digit = std::isdigit(static_cast<unsigned char>(s[i]));
    const bool joined = i > 0 && (std::isdigit(static_cast<unsigned char>(s[i - 1])) || s[i - 1] == '.' ||
                                  s[i - 1] == ',' || s[i - 1] == '/');
    if (digit && !joined) ++n;
  }
  return n;
}

bool HasMathDelimiters(std::string_view s) {
  return s.find('$') != std::string_view::npos || s.find("\\(") != std::string_view::npos ||
         s.find("\\[") != std::string_view::npos || s.find("\\boxed") != std::string_view::npos;
}

// The number a closing sentence in words states ("Therefore, there are 12
// such sequences.", "... increases by 100%."): the last sentence that opens
// with a conclusion word, when it has no math of its own and nothing after
// it has digits or math (so it is the text's last statement).
std::optional<std::string> ConcludingNumber(std::string_view t) {
  size_t best = std::string_view::npos;
  for (const char* cue : {"Therefore", "Thus", "Hence", "In conclusion", "So,"}) {
    const size_t p = t.rfind(cue);
    if (p != std::string_view::npos && (best == std::string_view::npos || p > best)) best = p;
  }
  if (best == std::string_view::npos) return std::nullopt;
  const std::string sentence = UpToSentenceEnd(t.substr(best));
  if (HasMathDelimiters(sentence)) return std::nullopt;
  const std::string_view after = t.substr(std::min(t.size(), best + sentence.size()));
  if (HasMathDelimiters(after) || CountNumbers(after) > 0) return std::nullopt;
  return LastNumber(sentence);
}

// The boxes that end the text's last run of adjacent \boxed{} (only spaces
// and commas between them), as written, when there are two or more:
// "$\boxed{1}\boxed{2}$" states the list 1, 2, which canonicalization joins.
std::optional<std::string> AdjacentBoxes(std::string_view t) {
  constexpr std::string_view kBox = "\\boxed";
  size_t run_start = std::string_view::npos, run_end = 0;
  int run = 0;
  for (size_t at = t.find(kBox); at != std::string_view::npos; at = t.find(kBox, at + 1)) {
    size_t j = at + kBox.size();
    while (j < t.size() && IsSpace(t[j])) ++j;
    if (j >= t.size() || t[j] != '{') continue;
    int depth = 0;
    size_t close = std::string_view::npos;
    for (size_t k = j; k < t.size(); ++k) {
      if (t[k] == '\\') {
        ++k;
        continue;
      }
      if (t[k] == '{') ++depth;
      if (t[k] == '}' && --depth == 0) {
        close = k;
        break;
      }
    }
    if (close == std::string_view::npos) break;
    const std::string_view gap = run ? t.substr(run_end, at - run_end) : std::string_view();
    const bool adjacent = run && at >= run_end &&
                          gap.find_first_not_of(" \t\n,") == std::string_view::npos;
    if (adjacent) {
      ++run;
    } else {
      run_start = at;
      run = 1;
    }
    run_end = close + 1;
    at = close;
  }
  if (run < 2) return std::nullopt;
  return std::string(t.substr(run_start, run_end - run_start));
}

}  // namespace

std::optional<std::string> ExtractFreeform(std::string_view text) {
  const std::string t = Trim(text);
  if (t.empty()) return std::nullopt;
  // Final-answer sentences.
  for (const char* cue : {"final answer is", "final answer:"}) {
    const size_t p = RFindCaseInsensitive(t, cue);
    if (p != std::string::npos) {
      std::string rest = t.substr(p + std::string_view(cue).size());
      const size_t hope = FindCaseInsensitive(rest, "I hope it is correct");
      if (hope != std::string::npos) rest = rest.substr(0, hope);
      std::string a = UpToSentenceEnd(rest);
      if (auto b = LastBoxedAnswer(a)) return *b;
      // "The largest $n$ is 34.": the math names the quantity and the plain
      // number after the last " is " states it.
      if (const size_t is = a.rfind(" is "); is != std::string::npos) {
        const std::string_view tail = std::string_view(a).substr(is + 4);
        if (tail.size() <= 40 && tail.find('$') == std::string_view::npos &&
            tail.find('\\') == std::string_view::npos) {
          if (auto n = LastNumber(tail)) return *n;
        }
      }
      if (auto m = LastMathSpan(a)) return *m;
      // A sentence in words with one number in it ("Jane started growing
      // Sphere 3 hours ago."): the number.
      if (std::count(a.begin(), a.end(), ' ') >= 3 && CountNumbers(a) == 1) {
        if (auto n = LastNumber(a)) return *n;
      }
      if (!a.empty()) return a;
    }
  }
  if (auto boxes = AdjacentBoxes(t)) return *boxes;
  if (auto b = LastBoxedAnswer(t)) return *b;
  // A bare answer: short and not a sentence.
  const bool has_cue = FindCaseInsensitive(t, "answer") != std::string::npos;
  const size_t spaces = std::count(t.begin(), t.end(), ' ');
  const bool has_delims = t.find('$') != std::string::npos || t.find("\\(") != std::string::npos ||
                          t.find("\\[") != std::string::npos;
  if (!has_cue && !has_delims && spaces <= 3 && t.size() <= 80) return t;
  for (const char* cue : {"answer is", "answer:"}) {
    const size_t p = RFindCaseInsensitive(t, cue);
    if (p != std::string::npos) {
      const std::string a =
          UpToSentenceEnd(std::string_view(t).substr(p + std::string_view(cue).size()));
      if (auto m = LastMathSpan(a)) return *m;
      if (!a.empty() && a.size() <= 80) return a;
    }
  }
  if (auto n = ConcludingNumber(t)) return *n;
  if (auto m = LastMathSpan(t)) return *m;
  // Math delimiters without a valid span ("$ \n 9 \n $") state no answer;
  // a single unescaped "$" is a currency sign ("$1,000.99"), not a delimiter.
  size_t dollars = 0;
  for (size_t i = 0; i < t.size(); ++i) dollars += t[i] == '$' && (i == 0 || t[i - 1] != '\\');
  if (dollars > 1 || t.find("\\(") != std::string::npos) return std::nullopt;
  return LastNumber(t);
}

}  // namespace llemma::math
