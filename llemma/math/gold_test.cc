// Self-consistency of the checker on the reference answers of the MATH test
// set: every gold answer must match itself and the rewritings a correct
// solution may use (\dfrac, an exact decimal, units, reordered sums and
// lists, a \boxed{} or "x = " wrapper), and must reject simple perturbations
// (off by one, a flipped sign, a dropped list element).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "llemma/math/check.h"

namespace llemma::math {
namespace {

using std::optional;
using std::string;
using std::vector;

struct GoldCase {
  string reference;
  string candidate;
  bool want;         // expected verdict
  const char* kind;  // the rewriting or perturbation that made it
};

bool IsInteger(const string& s) {
  size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
  if (i >= s.size()) return false;
  for (; i < s.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

bool IsDecimal(const string& s) {
  const size_t dot = s.find('.');
  if (dot == string::npos || dot == 0 || dot + 1 >= s.size()) return false;
  const string whole = s.substr(0, dot), frac = s.substr(dot + 1);
  return (IsInteger(whole) || whole == "-") && IsInteger(frac) && frac[0] != '-';
}

// "\frac{a}{b}", "-\frac{a}{b}", "\dfrac{a}{b}" or "a/b" with integer a, b
// that fit in 64 bits: {a, b}.
optional<std::pair<long long, long long>> SimpleFraction(const string& s) {
  string t = s;
  bool neg = false;
  if (!t.empty() && t[0] == '-') {
    neg = true;
    t = t.substr(1);
  }
  string num, den;
  for (const char* head : {"\\frac{", "\\dfrac{", "\\tfrac{"}) {
    const string h = head;
    if (t.rfind(h, 0) != 0) continue;
    const size_t close = t.find("}{", h.size());
    if (close == string::npos || t.back() != '}') return std::nullopt;
    num = t.substr(h.size(), close - h.size());
    den = t.substr(close + 2, t.size() - close - 3);
  }
  if (num.empty()) {
    const size_t slash = t.find('/');
    if (slash == string::npos) return std::nullopt;
    num = t.substr(0, slash);
    den = t.substr(slash + 1);
  }
  if (!IsInteger(num) || !IsInteger(den) || num[0] == '-' || den[0] == '-') return std::nullopt;
  if (num.size() > 15 || den.size() > 15) return std::nullopt;
  const long long a = std::stoll(num), b = std::stoll(den);
  if (b == 0) return std::nullopt;
  return std::make_pair(neg ? -a : a, b);
}

// a/b written as a terminating decimal when b = 2^i 5^j (and b != 1).
optional<string> ExactDecimal(long long a, long long b) {
  long long rest = b;
  int twos = 0, fives = 0;
  while (rest % 2 == 0) rest /= 2, ++twos;
  while (rest % 5 == 0) rest /= 5, ++fives;
  if (rest != 1 || b == 1) return std::nullopt;
  const int digits = std::max(twos, fives);
  if (digits > 12) return std::nullopt;
  // a/b = a * (10^digits / b) / 10^digits, and 10^digits / b is an integer.
  __int128 scale = 1;
  for (int i = 0; i < digits; ++i) scale *= 10;
  const __int128 scaled = static_cast<__int128>(a < 0 ? -a : a) * (scale / b);
  const long long whole = static_cast<long long>(scaled / scale);
  string frac = std::to_string(static_cast<long long>(scaled % scale));
  frac = string(digits - frac.size(), '0') + frac;
  return string(a < 0 ? "-" : "") + std::to_string(whole) + "." + frac;
}

// Splits at top-level occurrences of `sep` (outside (), [], {}).
vector<string> SplitTopLevel(const string& s, char sep) {
  vector<string> parts;
  int depth = 0;
  string cur;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}')) {
      depth += s[i + 1] == '{' ? 1 : -1;
      cur += c;
      cur += s[++i];
      continue;
    }
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (c == sep && depth == 0) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

string Trim(const string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

string ReplaceAll(string s, const string& from, const string& to) {
  for (size_t at = s.find(from); at != string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

bool IsNumber(const string& s) { return IsInteger(s) || IsDecimal(s) || SimpleFraction(s).has_value(); }

// A bare comma list of distinct numbers with at least two elements. Lists
// whose later elements all have three digits are left out: "1,000" is a
// number with a thousands separator, not a list.
optional<vector<string>> NumberList(const string& s) {
  vector<string> parts = SplitTopLevel(s, ',');
  if (parts.size() < 2) return std::nullopt;
  for (string& p : parts) {
    p = Trim(p);
    if (!IsNumber(p)) return std::nullopt;
  }
  // "0,1" reads as a decimal comma (0.1, the Math-Verify convention the
  // checker follows), so a list that starts with a bare "0," is ambiguous.
  if (parts[0] == "0" && s.find("0,") == 0) return std::nullopt;
  bool later_three = true;
  for (size_t i = 1; i < parts.size(); ++i) later_three = later_three && IsInteger(parts[i]) && parts[i].size() == 3;
  if (later_three) return std::nullopt;
  vector<string> sorted = parts;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) return std::nullopt;
  return parts;
}

string Join(const vector<string>& parts, const string& sep) {
  string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

void AddCases(const string& ref, vector<GoldCase>& out) {
  out.push_back({ref, ref, true, "identity"});
  if (ref.find("\\frac") != string::npos) {
    out.push_back({ref, ReplaceAll(ref, "\\frac", "\\dfrac"), true, "frac->dfrac"});
    out.push_back({ref, ReplaceAll(ref, "\\frac", "\\tfrac"), true, "frac->tfrac"});
  }
  if (ref.find("\\dfrac") != string::npos)
    out.push_back({ref, ReplaceAll(ref, "\\dfrac", "\\frac"), true, "dfrac->frac"});
  if (const auto f = SimpleFraction(ref)) {
    if (const auto d = ExactDecimal(f->first, f->second)) out.push_back({ref, *d, true, "fraction->decimal"});
    const long long a = f->first < 0 ? f->first - 1 : f->first + 1;  // |numerator| + 1
    out.push_back({ref, "\\frac{" + std::to_string(a) + "}{" + std::to_string(f->second) + "}", false,
                   "numerator+1"});
  }
  if (IsInteger(ref) && ref.size() <= 18) {
    out.push_back({ref, ref + "\\text{ units}", true, "integer+units"});
    out.push_back({ref, ref + " \\text{cm}", true, "integer+units"});
    out.push_back({ref, std::to_string(std::stoll(ref) + 1), false, "integer+1"});
  }
  // The sign flip, for nonzero plain numbers (-0 = 0).
  if (IsNumber(ref) && ref.find_first_not_of("-0./") != string::npos &&
      !(SimpleFraction(ref) && SimpleFraction(ref)->first == 0)) {
    out.push_back({ref, ref[0] == '-' ? ref.substr(1) : "-" + ref, false, "sign-flip"});
  }
  // b + a for a sum of two terms. Only where both terms are free of
  // relations, lists, \pm and text, and the second term has no top-level
  // minus of its own (a+b-c is not a sum of two terms).
  {
    const vector<string> terms = SplitTopLevel(ref, '+');
    const bool plain = ref.find_first_of("=,<>;") == string::npos && ref.find("\\pm") == string::npos &&
                       ref.find("\\mp") == string::npos && ref.find("\\text") == string::npos &&
                       ref.find("\\le") == string::npos && ref.find("\\ge") == string::npos &&
                       ref.find("\\in") == string::npos && ref.find("\\cup") == string::npos &&
                       ref.find("^\\circ") == string::npos && ref.find('$') == string::npos;
    if (plain && terms.size() == 2) {
      const string a = Trim(terms[0]), b = Trim(terms[1]);
      // A sentence period ("\\frac{7}{5} + \\frac{1}{5} i.") stays at the end.
      if (!a.empty() && !b.empty() && SplitTopLevel(b, '-').size() == 1 && b[0] != '-' && b.back() != '.')
        out.push_back({ref, b + "+" + a, true, "sum-reorder"});
    }
  }
  if (const auto list = NumberList(ref)) {
    vector<string> reversed(list->rbegin(), list->rend());
    out.push_back({ref, Join(reversed, ", "), true, "list-reorder"});
    vector<string> dropped(list->begin(), list->end() - 1);
    out.push_back({ref, Join(dropped, ", "), false, "list-drop"});
  }
  out.push_back({ref, "\\boxed{" + ref + "}", true, "boxed"});
  // "x = a" for single values: a number or an expression without relations,
  // ratios, lists or text (where "x = " would make a different kind of answer).
  if (ref.find_first_of("=,<>;:") == string::npos && ref.find("\\text") == string::npos &&
      ref.find("\\le") == string::npos && ref.find("\\ge") == string::npos && ref.find("\\in") == string::npos &&
      ref.find("\\cup") == string::npos && ref.find('(') != 0 && ref.find('[') != 0 &&
      ref.find("\\begin") == string::npos && ref.find("\\mbox") == string::npos) {
    out.push_back({ref, "x = " + ref, true, "x="});
  }
}

vector<string> LoadReferences() {
  std::ifstream f(LLEMMA_SOURCE_DIR "/data/benchmarks/math/test.jsonl");
  vector<string> refs;
  string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line);
    refs.push_back(ReferenceAnswer(Task::kMath, Mode::kDefault, j.at("solution").get<string>()));
  }
  return refs;
}

TEST(GoldAnswers, MatchTheirRewritingsAndRejectTheirPerturbations) {
  const vector<string> refs = LoadReferences();
  ASSERT_EQ(refs.size(), 5000u);
  vector<GoldCase> cases;
  for (const string& r : refs) AddCases(r, cases);

  vector<char> got(cases.size());
  std::atomic<size_t> next{0};
  const CheckOptions options;
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < cases.size();)
      got[i] = Judge(Task::kMath, Mode::kDefault, cases[i].reference, cases[i].candidate, options).equivalent;
  };
  vector<std::thread> pool;
  const unsigned n = std::max(2u, std::thread::hardware_concurrency());
  for (unsigned t = 0; t < n; ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();

  std::map<string, std::pair<int, int>> by_kind;  // kind: {held, total}
  int failures = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    auto& k = by_kind[cases[i].kind];
    ++k.second;
    if (static_cast<bool>(got[i]) == cases[i].want) {
      ++k.first;
    } else if (++failures <= 40) {
      ADD_FAILURE() << cases[i].kind << ": reference " << cases[i].reference << " vs " << cases[i].candidate
                    << " should be " << (cases[i].want ? "equivalent" : "rejected");
    }
  }
  string log;
  for (const auto& [kind, c] : by_kind) log += " " + kind + " " + std::to_string(c.first) + "/" + std::to_string(c.second);
  std::printf("[gold] %zu checks:%s\n", cases.size(), log.c_str());
  EXPECT_EQ(failures, 0);
  // Each rule must apply to a fair share of the answers, or it tests nothing.
  for (const char* kind : {"frac->dfrac", "fraction->decimal", "integer+units", "sum-reorder", "list-reorder",
                           "x=", "integer+1", "numerator+1", "sign-flip", "list-drop"})
    EXPECT_GE(by_kind[kind].second, 20) << kind;
}

}  // namespace
}  // namespace llemma::math
