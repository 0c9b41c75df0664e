#include "llemma/math/latex.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <optional>
#include <set>

#include "llemma/math/text_util.h"

namespace llemma::math {

// ---------------------------------------------------------------------------
// Node construction and inspection.

Node MakeNumber(std::string digits) { return Node{Node::Kind::kNumber, std::move(digits), {}}; }
Node MakeInteger(long long v) {
  if (v < 0) return Negate(MakeNumber(std::to_string(-v)));
  return MakeNumber(std::to_string(v));
}
Node MakeSymbol(std::string name) { return Node{Node::Kind::kSymbol, std::move(name), {}}; }
Node MakeConstant(std::string name) { return Node{Node::Kind::kConstant, std::move(name), {}}; }
Node MakeAdd(std::vector<Node> terms) {
  if (terms.size() == 1) return std::move(terms[0]);
  return Node{Node::Kind::kAdd, "", std::move(terms)};
}
Node MakeMul(std::vector<Node> factors) {
  if (factors.size() == 1) return std::move(factors[0]);
  return Node{Node::Kind::kMul, "", std::move(factors)};
}
Node MakePow(Node base, Node exponent) {
  std::vector<Node> kids;
  kids.push_back(std::move(base));
  kids.push_back(std::move(exponent));
  return Node{Node::Kind::kPow, "", std::move(kids)};
}
Node MakeFunc(std::string name, std::vector<Node> args) {
  return Node{Node::Kind::kFunc, std::move(name), std::move(args)};
}
Node Negate(Node x) {
  std::vector<Node> f;
  f.push_back(MakeNumber("-1"));
  f.push_back(std::move(x));
  return Node{Node::Kind::kMul, "", std::move(f)};
}
Node Reciprocal(Node x) { return MakePow(std::move(x), MakeNumber("-1")); }

bool IsConstant(const Node& n) {
  if (n.kind == Node::Kind::kSymbol) return false;
  for (const Node& k : n.kids)
    if (!IsConstant(k)) return false;
  return true;
}

size_t NodeCount(const Node& n) {
  size_t c = 1;
  for (const Node& k : n.kids) c += NodeCount(k);
  return c;
}

namespace {
void CollectSymbols(const Node& n, std::set<std::string>* out) {
  if (n.kind == Node::Kind::kSymbol) out->insert(n.text);
  for (const Node& k : n.kids) CollectSymbols(k, out);
}
}  // namespace

std::vector<std::string> FreeSymbols(const Node& n) {
  std::set<std::string> s;
  CollectSymbols(n, &s);
  return {s.begin(), s.end()};
}

std::string ToString(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kNumber:
    case Node::Kind::kSymbol:
    case Node::Kind::kConstant:
      return n.text;
    case Node::Kind::kAdd: {
      std::string s = "(";
      for (size_t i = 0; i < n.kids.size(); ++i) s += (i ? " + " : "") + ToString(n.kids[i]);
      return s + ")";
    }
    case Node::Kind::kMul: {
      std::string s = "(";
      for (size_t i = 0; i < n.kids.size(); ++i) s += (i ? "*" : "") + ToString(n.kids[i]);
      return s + ")";
    }
    case Node::Kind::kPow:
      return ToString(n.kids[0]) + "^" + ToString(n.kids[1]);
    case Node::Kind::kFunc: {
      std::string s = n.text + "(";
      for (size_t i = 0; i < n.kids.size(); ++i) s += (i ? ", " : "") + ToString(n.kids[i]);
      return s + ")";
    }
  }
  return "?";
}

// ---------------------------------------------------------------------------
// Numeric evaluation.

namespace {
using C = std::complex<long double>;
const long double kNaN = std::numeric_limits<long double>::quiet_NaN();

C RealRoot(C x, long double n) {
  // Odd integer roots of negative reals stay real, as a reader expects (∛-8 = -2).
  if (std::abs(x.imag()) == 0 && x.real() < 0 && std::fmod(n, 2.0L) == 1.0L)
    return -std::pow(-x.real(), 1.0L / n);
  return std::pow(x, C(1.0L / n));
}

C PowC(C b, C e) {
  if (e.imag() == 0 && b.imag() == 0) {
    const long double ev = e.real(), bv = b.real();
    if (ev == std::floor(ev) && std::abs(ev) < 1e6)
      return std::pow(bv, ev);  // exact for integers, any sign of base
    if (bv >= 0) return std::pow(bv, ev);
  }
  if (b == C(0) && e.real() > 0) return 0;
  return std::pow(b, e);
}

C Gamma1(C x) {  // x! for real x ≥ 0 (complex arguments are not answers)
  if (x.imag() != 0 || x.real() < 0) return kNaN;
  return std::tgamma(x.real() + 1);
}
}  // namespace

std::complex<long double> Evaluate(const Node& n,
                                   const std::map<std::string, std::complex<long double>>& env) {
  switch (n.kind) {
    case Node::Kind::kNumber:
      return std::strtold(n.text.c_str(), nullptr);
    case Node::Kind::kSymbol: {
      auto it = env.find(n.text);
      return it == env.end() ? C(kNaN) : it->second;
    }
    case Node::Kind::kConstant:
      if (n.text == "pi") return 3.14159265358979323846264338327950288L;
      if (n.text == "e") return 2.71828182845904523536028747135266250L;
      if (n.text == "i") return C(0, 1);
      if (n.text == "inf") return std::numeric_limits<long double>::infinity();
      return kNaN;
    case Node::Kind::kAdd: {
      C s = 0;
      for (const Node& k : n.kids) s += Evaluate(k, env);
      return s;
    }
    case Node::Kind::kMul: {
      C p = 1;
      for (const Node& k : n.kids) p *= Evaluate(k, env);
      return p;
    }
    case Node::Kind::kPow:
      return PowC(Evaluate(n.kids[0], env), Evaluate(n.kids[1], env));
    case Node::Kind::kFunc: {
      std::vector<C> a;
      for (const Node& k : n.kids) a.push_back(Evaluate(k, env));
      const std::string& f = n.text;
      if (a.size() == 1) {
        const C x = a[0];
        if (f == "sin") return std::sin(x);
        if (f == "cos") return std::cos(x);
        if (f == "tan") return std::tan(x);
        if (f == "sec") return C(1) / std::cos(x);
        if (f == "csc") return C(1) / std::sin(x);
        if (f == "cot") return std::cos(x) / std::sin(x);
        if (f == "arcsin") return std::asin(x);
        if (f == "arccos") return std::acos(x);
        if (f == "arctan") return std::atan(x);
        if (f == "sinh") return std::sinh(x);
        if (f == "cosh") return std::cosh(x);
        if (f == "tanh") return std::tanh(x);
        if (f == "log") return std::log(x);
        if (f == "exp") return std::exp(x);
        if (f == "sqrt") return std::sqrt(x);
        if (f == "abs") return std::abs(x);
        if (f == "factorial") return Gamma1(x);
        if (f == "pm") return x;  // callers expand ± before evaluating
      }
      if (a.size() == 2) {
        if (f == "root") return a[0].imag() == 0 ? RealRoot(a[1], a[0].real()) : C(kNaN);
        if (f == "binom") return Gamma1(a[0]) / (Gamma1(a[1]) * Gamma1(a[0] - a[1]));
        if (f == "logb") return std::log(a[1]) / std::log(a[0]);
      }
      return kNaN;
    }
  }
  return kNaN;
}

// ---------------------------------------------------------------------------
// Canonicalization of the raw text.

namespace {

using text::IsAlpha;
using text::IsDigit;
using text::IsSpace;
using text::ReplaceAll;
using text::Trim;

// Removes the command `cmd` (e.g. "\left") where it is not the prefix of a
// longer command name (e.g. "\leftarrow").
void RemoveCommand(std::string* s, std::string_view cmd, std::string_view replacement = "") {
  std::string out;
  size_t i = 0;
  while (i < s->size()) {
    if (s->compare(i, cmd.size(), cmd) == 0 &&
        !(i + cmd.size() < s->size() && IsAlpha((*s)[i + cmd.size()]))) {
      out.append(replacement);
      i += cmd.size();
    } else {
      out.push_back((*s)[i++]);
    }
  }
  *s = std::move(out);
}

// Index of the brace closing the one at `open`, or npos.
size_t MatchBrace(std::string_view s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      ++i;
      continue;
    }
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i;
  }
  return std::string_view::npos;
}

// "\boxed{a}" → "a"; several boxes in a row become a list "a, b".
std::string Unbox(std::string s) {
  for (const char* cmd : {"\\boxed", "\\fbox"}) {
    const size_t n = std::strlen(cmd);
    std::string out;
    size_t i = 0;
    bool last_was_box = false;
    while (i < s.size()) {
      if (s.compare(i, n, cmd) == 0) {
        size_t j = i + n;
        while (j < s.size() && IsSpace(s[j])) ++j;
        if (j < s.size() && s[j] == '{') {
          const size_t close = MatchBrace(s, j);
          if (close != std::string::npos) {
            if (last_was_box) out += ", ";
            out += s.substr(j + 1, close - j - 1);
            i = close + 1;
            last_was_box = true;
            continue;
          }
        }
      }
      if (!IsSpace(s[i])) last_was_box = false;
      out.push_back(s[i++]);
    }
    s = std::move(out);
  }
  return s;
}

// "7,425,000" / "1 000" / "12,345.5" as a whole answer → digits only; a
// comma that cannot separate thousands ("1000,99", "0,111") is a decimal comma.
std::string JoinThousands(const std::string& s) {
  {
    size_t k = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    const size_t d0 = k;
    while (k < s.size() && IsDigit(s[k])) ++k;
    const size_t lead = k - d0;
    if (lead > 0 && k + 1 < s.size() && s[k] == ',' && (lead > 3 || (lead == 1 && s[d0] == '0'))) {
      size_t m = k + 1;
      while (m < s.size() && IsDigit(s[m])) ++m;
      if (m == s.size() && m > k + 1) return s.substr(0, k) + "." + s.substr(k + 1);
    }
  }
  size_t i = 0;
  std::string sign;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) sign = s[i++];
  size_t lead = 0;
  while (i + lead < s.size() && IsDigit(s[i + lead])) ++lead;
  if (lead == 0 || lead > 3) return s;
  std::string digits = s.substr(i, lead);
  i += lead;
  char sep = 0;
  int groups = 0;
  while (i < s.size() && (s[i] == ',' || s[i] == ' ')) {
    if (sep && s[i] != sep) return s;
    sep = s[i];
    if (i + 4 > s.size() || !IsDigit(s[i + 1]) || !IsDigit(s[i + 2]) || !IsDigit(s[i + 3]))
      return s;
    if (i + 4 < s.size() && IsDigit(s[i + 4])) return s;
    digits.append(s, i + 1, 3);
    i += 4;
    ++groups;
  }
  if (groups == 0) return s;
  if (i < s.size()) {
    if (s[i] != '.' || sep == '.') return s;
    const size_t frac = i;
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i != s.size() || i == frac + 1) return s;
    digits.append(s, frac, std::string::npos);
  }
  return sign + digits;
}

}  // namespace

std::string CanonicalizeLatex(std::string_view in) {
  if (in.size() > kMaxAnswerBytes) return Trim(in);
  std::string s(in);
  // Unicode math characters.
  static const std::pair<const char*, const char*> kUnicode[] = {
      {"\xe2\x88\x92", "-"},
      {"\xc3\x97", "\\times "},
      {"\xc2\xb7", "\\cdot "},
      {"\xc3\xb7", "\\div "},
      {"\xe2\x89\xa4", "\\le "},
      {"\xe2\x89\xa5", "\\ge "},
      {"\xe2\x89\xa0", "\\ne "},
      {"\xcf\x80", "\\pi "},
      {"\xe2\x88\x9e", "\\infty "},
      {"\xe2\x88\x9a", "\\sqrt "},
      {"\xc2\xb0", ""},
      {"\xc2\xb2", "^2"},
      {"\xc2\xb3", "^3"},
      {"\xe2\x82\xac", ""},
      {"\xc2\xa3", ""},
      {"\xc2\xa0", " "},
      {"\xe2\x88\xaa", "\\cup "},
      {"\xe2\x88\x88", "\\in "},
      {"\xc2\xb1", "\\pm "},
      {"\xe2\x89\x88", "\\approx "},
  };
  for (const auto& [from, to] : kUnicode) ReplaceAll(&s, from, to);
  // Doubly escaped commands ("\\\\frac" from JSON written twice) → "\\frac".
  // Only a run of exactly two backslashes: "\\\\\\end" is a row separator
  // then \end.
  {
    std::string t;
    for (size_t i = 0; i < s.size();) {
      size_t run = 0;
      while (i + run < s.size() && s[i + run] == '\\') ++run;
      if (run == 0) {
        t.push_back(s[i++]);
        continue;
      }
      const bool doubled = run == 2 && i + 2 < s.size() && IsAlpha(s[i + 2]);
      t.append(doubled ? 1 : run, '\\');
      i += run;
    }
    s = std::move(t);
  }
  // Math delimiters and display wrappers.
  for (const char* d : {"\\(", "\\)", "\\[", "\\]", "$"}) ReplaceAll(&s, d, " ");
  RemoveCommand(&s, "\\displaystyle");
  RemoveCommand(&s, "\\left");
  RemoveCommand(&s, "\\right");
  RemoveCommand(&s, "\\middle");
  RemoveCommand(&s, "\\big");
  RemoveCommand(&s, "\\Big");
  RemoveCommand(&s, "\\bigg");
  RemoveCommand(&s, "\\Bigg");
  // Thousands separators written the LaTeX way, then spacing commands.
  ReplaceAll(&s, "\\\\", "\x01");  // protect the row separator "\\" from "\ " below
  {
    // "{,}" with any spacing inside or around it ("14 {, }916").
    std::string t;
    t.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
      size_t j = i;
      if (s[j] == '{') {
        ++j;
        while (j < s.size() && s[j] == ' ') ++j;
        if (j < s.size() && s[j] == ',') {
          ++j;
          while (j < s.size() && s[j] == ' ') ++j;
          if (j < s.size() && s[j] == '}') {
            while (!t.empty() && t.back() == ' ') t.pop_back();
            i = j + 1;
            while (i < s.size() && s[i] == ' ') ++i;
            continue;
          }
        }
      }
      t += s[i++];
    }
    s = std::move(t);
  }
  ReplaceAll(&s, ",\\!", "");
  for (const char* sp : {"\\!", "\\,", "\\;", "\\:", "\\ ", "~"}) ReplaceAll(&s, sp, " ");
  RemoveCommand(&s, "\\quad", " ");
  RemoveCommand(&s, "\\qquad", " ");
  // Fraction and binomial spellings.
  for (const char* f : {"\\dfrac", "\\tfrac", "\\cfrac"}) RemoveCommand(&s, f, "\\frac");
  for (const char* f : {"\\dbinom", "\\tbinom"}) RemoveCommand(&s, f, "\\binom");
  RemoveCommand(&s, "\\mbox", "\\text");
  RemoveCommand(&s, "\\textnormal", "\\text");
  RemoveCommand(&s, "\\textrm", "\\text");
  RemoveCommand(&s, "\\textup", "\\text");
  RemoveCommand(&s, "\\textit", "\\text");
  // Degrees.
  for (const char* d : {"^{\\circ}", "^\\circ", "^{\\circ }"}) ReplaceAll(&s, d, "");
  RemoveCommand(&s, "\\circ");
  RemoveCommand(&s, "\\degree");
  RemoveCommand(&s, "\\%", "%");
  s = Unbox(std::move(s));
  ReplaceAll(&s, "\x01", " \\\\ ");
  // Collapse whitespace, drop sentence punctuation at the end.
  std::string out;
  for (char c : s) {
    if (IsSpace(c)) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  out = Trim(out);
  while (!out.empty() &&
         (out.back() == '.' || out.back() == ',' || out.back() == ';' || out.back() == ' '))
    out.pop_back();
  while (!out.empty() && out.front() == ' ') out.erase(out.begin());
  return JoinThousands(out);
}

// ---------------------------------------------------------------------------
// Tokens and the parser.

namespace {

struct Tok {
  enum class T { kNum, kIdent, kCmd, kChar, kEnd };
  T t = T::kEnd;
  std::string s;
};

std::vector<Tok> Tokenize(std::string_view s) {
  std::vector<Tok> out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (IsSpace(c)) {
      ++i;
    } else if (IsDigit(c) || (c == '.' && i + 1 < s.size() && IsDigit(s[i + 1]))) {
      std::string num;
      while (i < s.size() && IsDigit(s[i])) num.push_back(s[i++]);
      if (i + 1 < s.size() && s[i] == '.' && IsDigit(s[i + 1])) {
        if (num.empty()) num = "0";
        num.push_back(s[i++]);
        while (i < s.size() && IsDigit(s[i])) num.push_back(s[i++]);
      }
      out.push_back({Tok::T::kNum, std::move(num)});
    } else if (IsAlpha(c)) {
      std::string id;
      while (i < s.size() && IsAlpha(s[i])) id.push_back(s[i++]);
      out.push_back({Tok::T::kIdent, std::move(id)});
    } else if (c == '\\') {
      ++i;
      std::string name;
      if (i < s.size() && IsAlpha(s[i])) {
        while (i < s.size() && IsAlpha(s[i])) name.push_back(s[i++]);
      } else if (i < s.size()) {
        name.push_back(s[i++]);
      }
      out.push_back({Tok::T::kCmd, std::move(name)});
    } else {
      out.push_back({Tok::T::kChar, std::string(1, c)});
      ++i;
    }
  }
  return out;
}

const std::set<std::string>& UnitWords() {
  static const std::set<std::string> k = {
      "cm",          "m",         "km",         "mm",      "in",     "inch",     "inches",
      "ft",          "feet",      "foot",       "yd",      "yard",   "yards",    "mi",
      "mile",        "miles",     "meter",      "meters",  "metre",  "metres",   "centimeter",
      "centimeters", "kilometer", "kilometers", "s",       "sec",    "second",   "seconds",
      "min",         "minute",    "minutes",    "h",       "hr",     "hrs",      "hour",
      "hours",       "day",       "days",       "week",    "weeks",  "month",    "months",
      "year",        "years",     "g",          "kg",      "gram",   "grams",    "lb",
      "lbs",         "pound",     "pounds",     "oz",      "ounce",  "ounces",   "dollar",
      "dollars",     "cent",      "cents",      "mph",     "units",  "unit",     "square",
      "sq",          "cubic",     "degree",     "degrees", "deg",    "radian",   "radians",
      "students",    "people",    "ways",       "points",  "digits", "integers", "numbers",
      "times",       "apples",    "books",      "cups",    "liters", "litres",   "l",
      "ml",          "gallons",   "gallon",     "quarts",  "pints",  "tons",     "kilograms",
      "grams",       "seconds",   "mins",       "edges",   "meals",  "tickets",  "coins",
      "pages",       "marbles",   "boxes",      "rows",    "games",  "sides",    "cookies",
      "eggs",        "hats",      "balls",      "dogs",    "cats",   "J",        "N",
      "W",           "eV",        "K",          "Hz",      "kHz",    "MHz",      "Pa",
      "atm",         "mol",       "V",          "A",       "C",
  };
  return k;
}

bool IsUnitText(const std::string& words) {
  // "\text{ cm}^2", "\text{square units}", "\text{miles per hour}": every word a unit or a
  // connective.
  std::string w;
  bool any = false;
  auto flush = [&]() -> bool {
    if (w.empty()) return true;
    const bool ok =
        UnitWords().count(w) || w == "per" || w == "of" || w == "and" || w == "the" || w == "a";
    any = any || ok;
    w.clear();
    return ok;
  };
  for (char c : words) {
    if (IsAlpha(c)) {
      w.push_back(c);
    } else if (c == ' ' || c == '/' || c == '^' || IsDigit(c) || c == '.' || c == '-' || c == '{' ||
               c == '}') {
      if (!flush()) return false;
    } else {
      return false;
    }
  }
  return flush() && any;
}

const std::set<std::string>& FunctionNames() {
  static const std::set<std::string> k = {"sin",    "cos",    "tan",    "sec",  "csc",  "cot",
                                          "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
                                          "log",    "ln",     "exp",    "sqrt"};
  return k;
}

struct ParseError {};

class Parser {
 public:
  explicit Parser(std::vector<Tok> toks) : t_(std::move(toks)) {}

  const Tok& Peek(size_t k = 0) const {
    static const Tok kEnd;
    return pos_ + k < t_.size() && pos_ + k < end_ ? t_[pos_ + k] : kEnd;
  }
  bool AtEnd() const { return pos_ >= end_ || pos_ >= t_.size(); }
  bool IsChar(const Tok& t, char c) const { return t.t == Tok::T::kChar && t.s[0] == c; }
  bool IsCmd(const Tok& t, std::string_view n) const { return t.t == Tok::T::kCmd && t.s == n; }
  void Expect(char c) {
    if (!IsChar(Peek(), c)) throw ParseError{};
    ++pos_;
  }

  // Parses tokens [begin, end) as one expression; throws ParseError unless all are consumed.
  Node ParseWhole(size_t begin, size_t end) {
    const size_t save_pos = pos_, save_end = end_;
    pos_ = begin;
    end_ = end;
    Node n = ParseAdditive();
    if (!AtEnd()) throw ParseError{};
    pos_ = save_pos;
    end_ = save_end;
    return n;
  }

  size_t size() const { return t_.size(); }
  const std::vector<Tok>& tokens() const { return t_; }
  std::vector<Tok>& mutable_tokens() { return t_; }

 private:
  struct DepthGuard {
    explicit DepthGuard(int* d) : d_(d) {
      if (++*d_ > kMaxDepth) throw ParseError{};
    }
    ~DepthGuard() { --*d_; }
    int* d_;
  };

  bool StartsFactor(const Tok& t) const {
    switch (t.t) {
      case Tok::T::kNum:
      case Tok::T::kIdent:
        return true;
      case Tok::T::kCmd:
        return !(t.s == "cdot" || t.s == "times" || t.s == "div" || t.s == "pm" || t.s == "mp" ||
                 t.s == "le" || t.s == "leq" || t.s == "ge" || t.s == "geq" || t.s == "ne" ||
                 t.s == "neq" || t.s == "lt" || t.s == "gt" || t.s == "approx" || t.s == "in" ||
                 t.s == "cup" || t.s == "cap" || t.s == "}" || t.s == "\\" || t.s == "%" ||
                 t.s == "end" || t.s == "leqslant" || t.s == "geqslant" || t.s == "to" ||
                 t.s == "rvert" || t.s == "rangle");
      case Tok::T::kChar:
        return t.s[0] == '(' || t.s[0] == '{' || (t.s[0] == '|' && abs_depth_ == 0) ||
               t.s[0] == '[';
      case Tok::T::kEnd:
        return false;
    }
    return false;
  }

  Node ParseAdditive() {
    DepthGuard g(&depth_);
    std::vector<Node> terms;
    bool neg = false;
    if (IsChar(Peek(), '-')) {
      neg = true;
      ++pos_;
    } else if (IsChar(Peek(), '+')) {
      ++pos_;
    }
    Node first = ParseTerm();
    terms.push_back(neg ? Negate(std::move(first)) : std::move(first));
    while (!AtEnd()) {
      const Tok& t = Peek();
      if (IsChar(t, '+')) {
        ++pos_;
        terms.push_back(ParseTerm());
      } else if (IsChar(t, '-')) {
        ++pos_;
        terms.push_back(Negate(ParseTerm()));
      } else if (IsCmd(t, "pm") || IsCmd(t, "mp")) {
        ++pos_;
        terms.push_back(MakeFunc("pm", {ParseTerm()}));
      } else {
        break;
      }
    }
    return MakeAdd(std::move(terms));
  }

  Node ParseTerm() {
    DepthGuard g(&depth_);
    std::vector<Node> factors;
    factors.push_back(ParseUnary());
    while (!AtEnd()) {
      const Tok& t = Peek();
      if (IsChar(t, '*') || IsCmd(t, "cdot") || IsCmd(t, "times")) {
        ++pos_;
        factors.push_back(ParseUnary());
      } else if (IsChar(t, '/') || IsCmd(t, "div")) {
        ++pos_;
        factors.push_back(Reciprocal(ParseUnary()));
      } else if (StartsFactor(t)) {
        factors.push_back(ParsePower());
      } else {
        break;
      }
    }
    return MakeMul(std::move(factors));
  }

  Node ParseUnary() {
    DepthGuard g(&depth_);
    if (IsChar(Peek(), '-')) {
      ++pos_;
      return Negate(ParseUnary());
    }
    if (IsChar(Peek(), '+')) {
      ++pos_;
      return ParseUnary();
    }
    return ParsePower();
  }

  Node ParsePower() {
    DepthGuard g(&depth_);
    Node base = ParsePostfix();
    if (IsChar(Peek(), '^')) {
      ++pos_;
      Node e = ParseScript();
      base = MakePow(std::move(base), std::move(e));
      while (IsChar(Peek(), '!')) {
        if (IsChar(Peek(1), '=')) break;
        ++pos_;
        base = MakeFunc("factorial", {std::move(base)});
      }
    }
    return base;
  }

  // A superscript: a braced group, or one character / command as in TeX.
  Node ParseScript() {
    DepthGuard g(&depth_);
    if (IsChar(Peek(), '{')) return ParseBraced();
    if (IsChar(Peek(), '-')) {  // "x^-1" is common in model output
      ++pos_;
      return Negate(ParseScript());
    }
    return ParseMacroArg();
  }

  // One TeX macro argument: {group}, or a single character of a number or word.
  Node ParseMacroArg() {
    DepthGuard g(&depth_);
    if (AtEnd()) throw ParseError{};
    if (IsChar(Peek(), '{')) return ParseBraced();
    Tok& t = t_[pos_];
    if ((t.t == Tok::T::kNum || t.t == Tok::T::kIdent) && t.s.size() > 1) {
      // "\frac12" takes "1" then "2": split the token in place.
      std::string head = t.s.substr(0, 1);
      t.s.erase(0, 1);
      if (t.t == Tok::T::kNum) {
        if (head == ".") throw ParseError{};
        if (t.s[0] == '.') throw ParseError{};
        return MakeNumber(head);
      }
      return SymbolOrConstant(head);
    }
    return ParseAtom();
  }

  Node ParseBraced() {
    Expect('{');
    const size_t close = FindClose(pos_ - 1);
    Node n = ParseWhole(pos_, close);
    pos_ = close + 1;
    return n;
  }

  // Index of the token closing the bracket opened at `open` (any bracket
  // closes any, as intervals mix them); throws when unbalanced.
  size_t FindClose(size_t open) const {
    int depth = 0;
    for (size_t i = open; i < t_.size() && i < end_; ++i) {
      const Tok& t = t_[i];
      if (t.t == Tok::T::kChar && (t.s[0] == '(' || t.s[0] == '[' || t.s[0] == '{')) ++depth;
      if (t.t == Tok::T::kCmd && t.s == "{") ++depth;
      if ((t.t == Tok::T::kChar && (t.s[0] == ')' || t.s[0] == ']' || t.s[0] == '}')) ||
          (t.t == Tok::T::kCmd && t.s == "}")) {
        if (--depth == 0) return i;
      }
    }
    throw ParseError{};
  }

  Node ParsePostfix() {
    DepthGuard g(&depth_);
    Node n = ParseAtom();
    while (!AtEnd()) {
      if (IsChar(Peek(), '!') && !IsChar(Peek(1), '=')) {
        ++pos_;
        n = MakeFunc("factorial", {std::move(n)});
      } else if (IsChar(Peek(), '\'') && n.kind == Node::Kind::kSymbol) {
        ++pos_;
        n.text += "'";
      } else if (IsChar(Peek(), '_') &&
                 (n.kind == Node::Kind::kSymbol || n.kind == Node::Kind::kNumber)) {
        // x_1 is a name; 204_5 is a numeral in base 5, kept as a name too.
        ++pos_;
        std::string sub;
        if (IsChar(Peek(), '{')) {
          const size_t close = FindClose(pos_);
          for (size_t i = pos_ + 1; i < close; ++i) sub += t_[i].s;
          pos_ = close + 1;
        } else if (!AtEnd()) {
          sub = t_[pos_].s.substr(0, 1);
          if (t_[pos_].s.size() > 1 && t_[pos_].t != Tok::T::kCmd) {
            t_[pos_].s.erase(0, 1);
          } else {
            ++pos_;
          }
        }
        n = MakeSymbol(n.text + "_" + sub);
      } else {
        break;
      }
    }
    return n;
  }

  Node SymbolOrConstant(const std::string& name) {
    if (name == "e") return MakeConstant("e");
    if (name == "i") return MakeConstant("i");
    return MakeSymbol(name);
  }

  // The argument of \sin, \log, ...: parenthesized, or the following
  // factors up to the next operator or function ("\sin 2x \cos x").
  Node ParseFunctionArg() {
    DepthGuard g(&depth_);
    if (IsChar(Peek(), '(')) {
      const size_t close = FindClose(pos_);
      Node n = ParseWhole(pos_ + 1, close);
      pos_ = close + 1;
      return n;
    }
    std::vector<Node> f;
    f.push_back(ParsePower());
    while (!AtEnd() && StartsFactor(Peek())) {
      const Tok& t = Peek();
      if (t.t == Tok::T::kCmd && (FunctionNames().count(t.s) || t.s == "frac")) break;
      if (t.t == Tok::T::kIdent && FunctionNames().count(t.s)) break;
      if (IsChar(t, '(')) break;
      f.push_back(ParsePower());
    }
    return MakeMul(std::move(f));
  }

  Node ApplyFunction(std::string name) {
    // \sin^2 x = (\sin x)^2; \sin^{-1} x = \arcsin x.
    std::optional<Node> power;
    if (IsChar(Peek(), '^')) {
      ++pos_;
      power = ParseScript();
      if (*power == Negate(MakeNumber("1")) && (name == "sin" || name == "cos" || name == "tan")) {
        name = "arc" + name;
        power.reset();
      }
    }
    if (name == "ln") name = "log";
    Node arg = ParseFunctionArg();
    Node f = name == "sqrt" ? MakeFunc("sqrt", {std::move(arg)}) : MakeFunc(name, {std::move(arg)});
    if (power) f = MakePow(std::move(f), std::move(*power));
    return f;
  }

  Node ParseAtom() {
    DepthGuard g(&depth_);
    if (AtEnd()) throw ParseError{};
    const Tok t = Peek();
    switch (t.t) {
      case Tok::T::kNum:
        ++pos_;
        return MakeNumber(t.s);
      case Tok::T::kIdent: {
        ++pos_;
        if (FunctionNames().count(t.s)) return ApplyFunction(t.s);
        if (t.s.size() > 3) throw ParseError{};  // words are text, not products of letters
        std::vector<Node> f;
        for (char c : t.s) f.push_back(SymbolOrConstant(std::string(1, c)));
        return MakeMul(std::move(f));
      }
      case Tok::T::kChar: {
        const char c = t.s[0];
        if (c == '(' || c == '[' || c == '{') {
          const size_t close = FindClose(pos_);
          const char closer = t_[close].s[0];
          if ((c == '(' && closer != ')') || (c == '[' && closer != ']') ||
              (c == '{' && closer != '}'))
            throw ParseError{};
          Node n = ParseWhole(pos_ + 1, close);
          pos_ = close + 1;
          return n;
        }
        if (c == '|') {
          ++pos_;
          ++abs_depth_;
          size_t close = pos_;
          int depth = 0;
          for (; close < end_ && close < t_.size(); ++close) {
            const Tok& u = t_[close];
            if (u.t == Tok::T::kChar && (u.s[0] == '(' || u.s[0] == '[' || u.s[0] == '{')) ++depth;
            if (u.t == Tok::T::kChar && (u.s[0] == ')' || u.s[0] == ']' || u.s[0] == '}')) --depth;
            if (depth == 0 && IsChar(u, '|')) break;
          }
          if (close >= end_ || close >= t_.size()) throw ParseError{};
          Node n = ParseWhole(pos_, close);
          --abs_depth_;
          pos_ = close + 1;
          return MakeFunc("abs", {std::move(n)});
        }
        throw ParseError{};
      }
      case Tok::T::kCmd:
        return ParseCommand(t.s);
      case Tok::T::kEnd:
        break;
    }
    throw ParseError{};
  }

  Node ParseCommand(const std::string& name) {
    ++pos_;
    if (name == "frac") {
      Node a = ParseMacroArg();
      Node b = ParseMacroArg();
      return MakeMul({std::move(a), Reciprocal(std::move(b))});
    }
    if (name == "sqrt") {
      if (IsChar(Peek(), '[')) {
        const size_t close = FindClose(pos_);
        Node index = ParseWhole(pos_ + 1, close);
        pos_ = close + 1;
        Node x = ParseMacroArg();
        return MakeFunc("root", {std::move(index), std::move(x)});
      }
      return MakeFunc("sqrt", {ParseMacroArg()});
    }
    if (name == "binom" || name == "choose") {
      Node a = ParseMacroArg();
      Node b = ParseMacroArg();
      return MakeFunc("binom", {std::move(a), std::move(b)});
    }
    if (name == "log" && IsChar(Peek(), '_')) {
      ++pos_;
      Node base = ParseMacroArg();
      Node arg = ParseFunctionArg();
      return MakeFunc("logb", {std::move(base), std::move(arg)});
    }
    if (FunctionNames().count(name)) return ApplyFunction(name);
    if (name == "pi") return MakeConstant("pi");
    if (name == "infty" || name == "infinity") return MakeConstant("inf");
    if (name == "text" || name == "mathrm" || name == "mathbf" || name == "mathit" ||
        name == "boldsymbol" || name == "operatorname" || name == "textbf" || name == "mathsf" ||
        name == "bf" || name == "rm") {
      if (!IsChar(Peek(), '{')) return ParseAtom();
      const size_t close = FindClose(pos_);
      std::string content;
      for (size_t i = pos_ + 1; i < close; ++i) content += t_[i].s;
      if (content.size() == 1 && IsAlpha(content[0])) {
        pos_ = close + 1;
        return SymbolOrConstant(content);
      }
      Node n = ParseWhole(pos_ + 1, close);
      pos_ = close + 1;
      return n;
    }
    if (name == "overline" || name == "bar" || name == "vec" || name == "hat" || name == "tilde" ||
        name == "mathbb" || name == "mathcal") {
      Node n = ParseMacroArg();
      if (n.kind == Node::Kind::kSymbol) n.text = name + ":" + n.text;
      return n;
    }
    if (name == "lvert" || name == "vert") {
      size_t close = pos_;
      for (; close < end_ && close < t_.size(); ++close)
        if (IsCmd(t_[close], "rvert") || IsCmd(t_[close], "vert")) break;
      if (close >= end_ || close >= t_.size()) throw ParseError{};
      Node n = ParseWhole(pos_, close);
      pos_ = close + 1;
      return MakeFunc("abs", {std::move(n)});
    }
    // Greek letters and other named symbols.
    static const std::set<std::string> kGreek = {
        "alpha", "beta",     "gamma", "delta",   "epsilon", "varepsilon", "zeta", "eta",
        "theta", "vartheta", "iota",  "kappa",   "lambda",  "mu",         "nu",   "xi",
        "rho",   "sigma",    "tau",   "upsilon", "phi",     "varphi",     "chi",  "psi",
        "omega", "Gamma",    "Delta", "Theta",   "Lambda",  "Xi",         "Pi",   "Sigma",
        "Phi",   "Psi",      "Omega", "ell"};
    if (kGreek.count(name)) return MakeSymbol(name);
    throw ParseError{};
  }

  std::vector<Tok> t_;
  size_t pos_ = 0;
  size_t end_ = static_cast<size_t>(-1);
  int depth_ = 0;
  int abs_depth_ = 0;
};

// ---------------------------------------------------------------------------
// Answer structure.

int CountDecimals(const Node& n, bool* has_decimal) {
  int d = 0;
  if (n.kind == Node::Kind::kNumber) {
    const size_t dot = n.text.find('.');
    if (dot != std::string::npos) {
      *has_decimal = true;
      d = static_cast<int>(n.text.size() - dot - 1);
    }
  }
  for (const Node& k : n.kids) d = std::max(d, CountDecimals(k, has_decimal));
  return d;
}

std::string TextKey(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\') {  // drop command names such as \text, \mathrm
      size_t j = i + 1;
      while (j < s.size() && IsAlpha(s[j])) ++j;
      const std::string_view name = s.substr(i + 1, j - i - 1);
      if (name != "text" && name != "mathrm" && name != "textbf" && name != "mathbf" &&
          name != "textit") {
        out.append(name);
      }
      i = j - 1;
      continue;
    }
    if (c == '{' || c == '}' || c == ' ' || c == '(' || c == ')' || c == '.' || c == '"' ||
        c == '\'')
      continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

struct Builder {
  Parser p;
  int depth = 0;

  bool IsRel(const Tok& t, Rel* rel, size_t* width, size_t i) const {
    const auto& toks = p.tokens();
    if (t.t == Tok::T::kChar) {
      const char c = t.s[0];
      const bool eq_next =
          i + 1 < toks.size() && toks[i + 1].t == Tok::T::kChar && toks[i + 1].s == "=";
      *width = eq_next ? 2 : 1;
      if (c == '=') return *rel = Rel::kEq, *width = 1, true;
      if (c == '<') return *rel = eq_next ? Rel::kLe : Rel::kLt, true;
      if (c == '>') return *rel = eq_next ? Rel::kGe : Rel::kGt, true;
      if (c == '!' && eq_next) return *rel = Rel::kNe, true;
      return false;
    }
    if (t.t != Tok::T::kCmd) return false;
    *width = 1;
    static const std::pair<const char*, Rel> kCmds[] = {
        {"le", Rel::kLe},  {"leq", Rel::kLe},      {"leqslant", Rel::kLe},   {"ge", Rel::kGe},
        {"geq", Rel::kGe}, {"geqslant", Rel::kGe}, {"lt", Rel::kLt},         {"gt", Rel::kGt},
        {"ne", Rel::kNe},  {"neq", Rel::kNe},      {"approx", Rel::kApprox}, {"equiv", Rel::kEq}};
    for (const auto& [n, r] : kCmds)
      if (t.s == n) return *rel = r, true;
    return false;
  }

  // Top-level split points of [b, e) on a predicate (outside brackets).
  template <typename Pred>
  std::vector<size_t> Split(size_t b, size_t e, Pred pred) const {
    std::vector<size_t> cuts;
    int depth_here = 0;
    const auto& toks = p.tokens();
    for (size_t i = b; i < e; ++i) {
      const Tok& t = toks[i];
      const bool open =
          (t.t == Tok::T::kChar && (t.s[0] == '(' || t.s[0] == '[' || t.s[0] == '{')) ||
          (t.t == Tok::T::kCmd && (t.s == "{" || t.s == "begin"));
      const bool close =
          (t.t == Tok::T::kChar && (t.s[0] == ')' || t.s[0] == ']' || t.s[0] == '}')) ||
          (t.t == Tok::T::kCmd && (t.s == "}" || t.s == "end"));
      if (open) ++depth_here;
      if (close) --depth_here;
      if (depth_here == 0 && !open && !close && pred(t, i)) cuts.push_back(i);
    }
    return cuts;
  }

  size_t MatchClose(size_t open, size_t e) const {
    int d = 0;
    const auto& toks = p.tokens();
    for (size_t i = open; i < e; ++i) {
      const Tok& t = toks[i];
      if ((t.t == Tok::T::kChar && (t.s[0] == '(' || t.s[0] == '[' || t.s[0] == '{')) ||
          (t.t == Tok::T::kCmd && t.s == "{"))
        ++d;
      if ((t.t == Tok::T::kChar && (t.s[0] == ')' || t.s[0] == ']' || t.s[0] == '}')) ||
          (t.t == Tok::T::kCmd && t.s == "}"))
        if (--d == 0) return i;
    }
    return static_cast<size_t>(-1);
  }

  Answer Expr(size_t b, size_t e) {
    Answer a;
    a.kind = Answer::Kind::kExpr;
    a.expr = p.ParseWhole(b, e);
    a.decimals = CountDecimals(a.expr, &a.has_decimal);
    return a;
  }

  std::vector<Answer> Items(size_t b, size_t e) {
    std::vector<Answer> items;
    auto cuts =
        Split(b, e, [](const Tok& t, size_t) { return t.t == Tok::T::kChar && t.s[0] == ','; });
    size_t start = b;
    cuts.push_back(e);
    for (size_t c : cuts) {
      if (c == start) throw ParseError{};
      items.push_back(Element(start, c));
      start = c + 1;
    }
    return items;
  }

  // Strips a trailing percent sign or unit words; returns the new end.
  size_t StripSuffixes(size_t b, size_t e, Answer* info) {
    const auto& toks = p.tokens();
    bool changed = true;
    while (changed && e > b + 1) {
      changed = false;
      const Tok& last = toks[e - 1];
      if (last.t == Tok::T::kChar && last.s == "%") {
        info->percent = true;
        --e;
        changed = true;
      } else if (last.t == Tok::T::kIdent &&
                 (last.s == "percent" || last.s == "pct" || last.s == "percentage")) {
        info->percent = true;
        --e;
        changed = true;
      } else if (last.t == Tok::T::kIdent && UnitWords().count(last.s) && last.s.size() >= 2 &&
                 !(e >= b + 2 && toks[e - 2].t == Tok::T::kChar &&
                   (toks[e - 2].s == "^" || toks[e - 2].s == "_"))) {
        info->units = last.s + (info->units.empty() ? "" : " " + info->units);
        --e;
        changed = true;
      } else if (last.t == Tok::T::kNum && e >= b + 3 && toks[e - 2].t == Tok::T::kChar &&
                 toks[e - 2].s == "^" && !info->units.empty()) {
        e -= 2;  // "cm^2" after the unit was taken
        changed = true;
      } else if ((last.t == Tok::T::kChar && last.s == "}") ||
                 (last.t == Tok::T::kNum && e >= b + 4)) {
        // "\text{ cm}" or "\text{ cm}^2": find the \text opening this group.
        size_t close = e - 1;
        size_t tail = e;
        if (last.t == Tok::T::kNum) {
          if (!(toks[e - 2].t == Tok::T::kChar && toks[e - 2].s == "^")) break;
          close = e - 3;
          if (!(toks[close].t == Tok::T::kChar && toks[close].s == "}")) break;
        }
        int d = 0;
        size_t open = close;
        for (size_t i = close + 1; i-- > b;) {
          if (toks[i].t == Tok::T::kChar && toks[i].s == "}") ++d;
          if (toks[i].t == Tok::T::kChar && toks[i].s == "{" && --d == 0) {
            open = i;
            break;
          }
        }
        if (open == close || open == b || toks[open - 1].t != Tok::T::kCmd ||
            (toks[open - 1].s != "text" && toks[open - 1].s != "mathrm" &&
             toks[open - 1].s != "textbf"))
          break;
        if (open - 1 == b) break;  // the whole answer is text
        std::string words;
        for (size_t i = open + 1; i < close; ++i) words += (i > open + 1 ? " " : "") + toks[i].s;
        if (!IsUnitText(words) &&
            !(toks[open + 1].t == Tok::T::kIdent &&
              words.find_first_of("0123456789") == std::string::npos && (open >= b + 2))) {
          break;
        }
        info->units = words + (info->units.empty() ? "" : " " + info->units);
        e = open - 1;
        (void)tail;
        changed = true;
      }
    }
    return e;
  }

  Answer Element(size_t b, size_t e) {
    if (++depth > kMaxDepth) throw ParseError{};
    const auto& toks = p.tokens();
    Answer info;
    e = StripSuffixes(b, e, &info);
    if (b >= e) throw ParseError{};
    Answer a = ElementCore(b, e);
    a.percent = a.percent || info.percent;
    if (!info.units.empty()) a.units = info.units;
    --depth;
    (void)toks;
    return a;
  }

  Answer ElementCore(size_t b, size_t e) {
    const auto& toks = p.tokens();
    // "x \in S" → S.
    {
      auto in =
          Split(b, e, [](const Tok& t, size_t) { return t.t == Tok::T::kCmd && t.s == "in"; });
      if (in.size() == 1) return Element(in[0] + 1, e);
    }
    // Unions and intersections of sets / intervals.
    {
      auto cups =
          Split(b, e, [](const Tok& t, size_t) { return t.t == Tok::T::kCmd && t.s == "cup"; });
      if (!cups.empty()) {
        Answer u;
        u.kind = Answer::Kind::kUnion;
        size_t start = b;
        cups.push_back(e);
        for (size_t c : cups) {
          if (c == start) throw ParseError{};
          u.items.push_back(Element(start, c));
          start = c + 1;
        }
        return u;
      }
    }
    // Relation chains.
    {
      std::vector<Rel> rels;
      std::vector<std::pair<size_t, size_t>> cut;
      auto pred = [&](const Tok& t, size_t i) {
        Rel r;
        size_t w;
        if (!IsRel(t, &r, &w, i)) return false;
        // "<" followed by "=" is one relation; skip the second token.
        if (!cut.empty() && cut.back().first + cut.back().second > i) return false;
        rels.push_back(r);
        cut.push_back({i, w});
        return true;
      };
      Split(b, e, pred);
      if (!cut.empty()) {
        Answer a;
        a.kind = Answer::Kind::kRelation;
        a.rels = rels;
        size_t start = b;
        for (auto [c, w] : cut) {
          if (c == start) throw ParseError{};
          a.items.push_back(Element(start, c));
          start = c + w;
        }
        if (start >= e) throw ParseError{};
        a.items.push_back(Element(start, e));
        return a;
      }
    }
    // Matrices, also inside brackets ("\\left[\\begin{array}…\\end{array}\\right]").
    if (toks[b].t == Tok::T::kCmd && toks[b].s == "begin") {
      return MatrixBlockEnd(b, e) == e ? Matrix(b, e) : MatrixArithmetic(b, e);
    }
    if (e - b >= 3 && toks[b].t == Tok::T::kChar && (toks[b].s == "(" || toks[b].s == "[") &&
        toks[b + 1].t == Tok::T::kCmd && toks[b + 1].s == "begin" && MatchClose(b, e) == e - 1) {
      return Matrix(b + 1, e - 1);
    }
    // "{1, 3}": TeX grouping braces around a list.
    if (toks[b].t == Tok::T::kChar && toks[b].s == "{" && MatchClose(b, e) == e - 1 &&
        !Split(b + 1, e - 1, [](const Tok& t, size_t) {
           return t.t == Tok::T::kChar && t.s[0] == ',';
         }).empty()) {
      Answer a;
      a.kind = Answer::Kind::kList;
      a.items = Items(b + 1, e - 1);
      return a;
    }
    // Sets \{ ... \}.
    if (toks[b].t == Tok::T::kCmd && toks[b].s == "{" && toks[e - 1].t == Tok::T::kCmd &&
        toks[e - 1].s == "}" && MatchClose(b, e) == e - 1) {
      Answer s;
      s.kind = Answer::Kind::kSet;
      if (e - b > 2) s.items = Items(b + 1, e - 1);
      return s;
    }
    if (toks[b].t == Tok::T::kCmd && (toks[b].s == "emptyset" || toks[b].s == "varnothing") &&
        e == b + 1) {
      Answer s;
      s.kind = Answer::Kind::kSet;
      return s;
    }
    // Tuples and intervals.
    if (toks[b].t == Tok::T::kChar && (toks[b].s == "(" || toks[b].s == "[") &&
        MatchClose(b, e) == e - 1) {
      auto commas = Split(
          b + 1, e - 1, [](const Tok& t, size_t) { return t.t == Tok::T::kChar && t.s[0] == ','; });
      if (!commas.empty()) {
        Answer a;
        a.items = Items(b + 1, e - 1);
        const bool lo = toks[b].s == "[", hi = toks[e - 1].s == "]";
        if (a.items.size() == 2 && (lo || hi)) {
          a.kind = Answer::Kind::kInterval;
          a.lo_closed = lo;
          a.hi_closed = hi;
        } else if (lo && hi) {
          a.kind = Answer::Kind::kTuple;  // "[1, 2, 3]": a list written with brackets
        } else {
          a.kind = Answer::Kind::kTuple;
        }
        return a;
      }
    }
    // Plain comma lists.
    {
      auto commas =
          Split(b, e, [](const Tok& t, size_t) { return t.t == Tok::T::kChar && t.s[0] == ','; });
      if (!commas.empty()) {
        Answer a;
        a.kind = Answer::Kind::kList;
        a.items = Items(b, e);
        return a;
      }
    }
    return Expr(b, e);
  }

  // One past the \end{name} that closes the \begin at b (nested
  // environments counted); e when there is none.
  size_t MatrixBlockEnd(size_t b, size_t e) const {
    const auto& toks = p.tokens();
    int depth = 0;
    for (size_t i = b; i < e; ++i) {
      if (toks[i].t != Tok::T::kCmd) continue;
      if (toks[i].s == "begin") ++depth;
      if (toks[i].s == "end" && --depth == 0) {
        if (i + 1 >= e || !(toks[i + 1].t == Tok::T::kChar && toks[i + 1].s == "{")) return e;
        const size_t close = MatchClose(i + 1, e);
        return close == static_cast<size_t>(-1) ? e : close + 1;
      }
    }
    return e;
  }

  // Matrices joined by +, - and products (juxtaposed, \cdot, \times),
  // evaluated element by element: "A + B" and "A B" state one matrix.
  // Products bind tighter than sums; mismatched shapes are not mathematics.
  static constexpr size_t kMatrixArithmeticNodes = 20000;
  Answer MatrixArithmetic(size_t b, size_t e) {
    const auto& toks = p.tokens();
    auto shape_ok = [](const Answer& m) {
      for (const Answer& row : m.items) {
        if (row.items.size() != m.items[0].items.size()) return false;
        for (const Answer& x : row.items)
          if (x.kind != Answer::Kind::kExpr) return false;
      }
      return true;
    };
    auto element = [](Node n) {
      Answer a;
      a.kind = Answer::Kind::kExpr;
      a.expr = std::move(n);
      return a;
    };
    auto add = [&](const Answer& x, const Answer& y, bool minus) {
      if (x.items.size() != y.items.size() || x.items[0].items.size() != y.items[0].items.size()) throw ParseError{};
      Answer r = x;
      for (size_t i = 0; i < x.items.size(); ++i)
        for (size_t j = 0; j < x.items[i].items.size(); ++j) {
          const Node& rhs = y.items[i].items[j].expr;
          r.items[i].items[j] = element(MakeAdd({x.items[i].items[j].expr, minus ? Negate(rhs) : rhs}));
        }
      return r;
    };
    auto mul = [&](const Answer& x, const Answer& y) {
      const size_t n = x.items.size(), k = x.items[0].items.size(), m = y.items[0].items.size();
      if (y.items.size() != k) throw ParseError{};
      Answer r;
      r.kind = Answer::Kind::kMatrix;
      for (size_t i = 0; i < n; ++i) {
        Answer row;
        row.kind = Answer::Kind::kTuple;
        for (size_t j = 0; j < m; ++j) {
          std::vector<Node> terms;  // (xy)_ij = sum over l of x_il y_lj
          for (size_t l = 0; l < k; ++l) terms.push_back(MakeMul({x.items[i].items[l].expr, y.items[l].items[j].expr}));
          row.items.push_back(element(MakeAdd(std::move(terms))));
        }
        r.items.push_back(std::move(row));
      }
      return r;
    };
    std::vector<Answer> sums;  // products already folded
    std::vector<bool> minus;   // the sign before each of sums[1..]
    std::optional<Answer> product;
    bool pending_minus = false;
    for (size_t i = b; i < e;) {
      if (!(toks[i].t == Tok::T::kCmd && toks[i].s == "begin")) throw ParseError{};
      const size_t end = MatrixBlockEnd(i, e);
      if (end == e && i == b) throw ParseError{};
      Answer m = Matrix(i, end);
      if (m.kind != Answer::Kind::kMatrix || !shape_ok(m)) throw ParseError{};
      product = product ? mul(*product, m) : std::move(m);
      // Each product copies its operands into every element, so a long chain
      // grows exponentially: past the budget it is not read as mathematics.
      size_t nodes = 0;
      for (const Answer& row : product->items)
        for (const Answer& x : row.items) nodes += NodeCount(x.expr);
      if (nodes > kMatrixArithmeticNodes) throw ParseError{};
      i = end;
      if (i == e) break;
      if (toks[i].t == Tok::T::kChar && (toks[i].s == "+" || toks[i].s == "-")) {
        sums.push_back(std::move(*product));
        minus.push_back(pending_minus);
        pending_minus = toks[i].s == "-";
        product.reset();
        ++i;
      } else if (toks[i].t == Tok::T::kCmd && (toks[i].s == "cdot" || toks[i].s == "times")) {
        ++i;
      }
      if (i >= e) throw ParseError{};
    }
    sums.push_back(std::move(*product));
    minus.push_back(pending_minus);
    Answer r = sums[0];
    size_t nodes = 0;
    for (size_t i = 1; i < sums.size(); ++i) {
      r = add(r, sums[i], minus[i]);
      for (const Answer& row : sums[i].items)
        for (const Answer& x : row.items) nodes += NodeCount(x.expr);
      if (nodes > kMatrixArithmeticNodes) throw ParseError{};
    }
    return r;
  }

  Answer Matrix(size_t b, size_t e) {
    const auto& toks = p.tokens();
    // \begin{name} ... \end{name}
    size_t i = b + 1;
    if (i >= e || !(toks[i].t == Tok::T::kChar && toks[i].s == "{")) throw ParseError{};
    const size_t close = MatchClose(i, e);
    if (close == static_cast<size_t>(-1)) throw ParseError{};
    i = close + 1;
    if (i < e && toks[i].t == Tok::T::kChar && toks[i].s == "{") {  // array column spec
      const size_t c2 = MatchClose(i, e);
      if (c2 == static_cast<size_t>(-1)) throw ParseError{};
      i = c2 + 1;
    }
    size_t end_cmd = e;
    for (size_t j = e; j-- > i;) {
      if (toks[j].t == Tok::T::kCmd && toks[j].s == "end") {
        end_cmd = j;
        break;
      }
    }
    if (end_cmd == e || MatchClose(end_cmd + 1, e) != e - 1) throw ParseError{};
    Answer m;
    m.kind = Answer::Kind::kMatrix;
    size_t row_start = i;
    auto add_row = [&](size_t rb, size_t re) {
      if (rb >= re) return;  // a trailing "\\" leaves an empty row
      Answer row;
      row.kind = Answer::Kind::kTuple;
      size_t cs = rb;
      for (size_t j = rb; j <= re; ++j) {
        if (j == re || (toks[j].t == Tok::T::kChar && toks[j].s == "&")) {
          if (j == cs) throw ParseError{};
          row.items.push_back(Element(cs, j));
          cs = j + 1;
        }
      }
      m.items.push_back(std::move(row));
    };
    for (size_t j = i; j <= end_cmd; ++j) {
      if (j == end_cmd || (toks[j].t == Tok::T::kCmd && toks[j].s == "\\")) {
        add_row(row_start, j);
        row_start = j + 1;
      }
    }
    if (m.items.empty()) throw ParseError{};
    return m;
  }
};

}  // namespace

Answer ParseAnswer(std::string_view raw) {
  const std::string s = CanonicalizeLatex(raw);
  Answer text;
  text.kind = Answer::Kind::kText;
  text.text = TextKey(s);
  if (s.empty()) return Answer{};
  if (s.size() > kMaxAnswerBytes) return text;
  try {
    Builder b{Parser(Tokenize(s))};
    const size_t n = b.p.size();
    if (n == 0) return Answer{};
    return b.Element(0, n);
  } catch (const ParseError&) {
    return text;
  } catch (const std::exception&) {
    return text;
  }
}

namespace {
void KeyOf(const Node& n, std::string* out) {
  switch (n.kind) {
    case Node::Kind::kNumber:
    case Node::Kind::kSymbol:
    case Node::Kind::kConstant:
      *out += n.text;
      return;
    default:
      break;
  }
  *out += n.kind == Node::Kind::kAdd   ? "A("
          : n.kind == Node::Kind::kMul ? "M("
          : n.kind == Node::Kind::kPow ? "P("
                                       : n.text + "(";
  for (size_t i = 0; i < n.kids.size(); ++i) {
    if (i) *out += ",";
    KeyOf(n.kids[i], out);
  }
  *out += ")";
}
}  // namespace

std::string AnswerKey(const Answer& a) {
  std::string k;
  switch (a.kind) {
    case Answer::Kind::kEmpty:
      return "empty";
    case Answer::Kind::kText:
      return "T:" + a.text;
    case Answer::Kind::kExpr:
      KeyOf(a.expr, &k);
      return "E:" + k + (a.percent ? "%" : "");
    default:
      break;
  }
  k = std::to_string(static_cast<int>(a.kind)) + (a.lo_closed ? "[" : "(") +
      (a.hi_closed ? "]" : ")") + "{";
  for (size_t i = 0; i < a.items.size(); ++i) {
    if (i) k += ";";
    if (i > 0 && i - 1 < a.rels.size()) k += std::to_string(static_cast<int>(a.rels[i - 1]));
    k += AnswerKey(a.items[i]);
  }
  return k + "}";
}

}  // namespace llemma::math
