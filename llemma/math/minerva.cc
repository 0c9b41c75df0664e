#include "llemma/math/minerva.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "llemma/math/text_util.h"

namespace llemma::math {
namespace {

using text::ReplaceAll;
using text::Split;


// re.sub(r'(.*?)(\$)(.*?)(\$)(.*)', '$\\3$', s): on each line holding two
// '$', the line becomes the first $…$ span.
std::string KeepFirstDollarSpan(const std::string& s) {
  std::string out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t nl = s.find('\n', start);
    const size_t end = nl == std::string::npos ? s.size() : nl;
    const std::string_view line(s.data() + start, end - start);
    const size_t a = line.find('$');
    const size_t b = a == std::string_view::npos ? a : line.find('$', a + 1);
    if (b != std::string_view::npos) {
      out += "$";
      out.append(line.substr(a + 1, b - a - 1));
      out += "$";
    } else {
      out.append(line);
    }
    if (nl == std::string::npos) break;
    out.push_back('\n');
    start = nl + 1;
  }
  return out;
}

// re.sub(r'(<open>)(.*?)(\})', '\\2', s) (lazy) or (.*) (greedy), where '.'
// does not match '\n'.
std::string UnwrapGroups(const std::string& s, std::string_view open, bool greedy) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const size_t p = s.find(open, i);
    if (p == std::string::npos) break;
    const size_t content = p + open.size();
    size_t line_end = s.find('\n', content);
    if (line_end == std::string::npos) line_end = s.size();
    size_t close = std::string::npos;
    if (greedy) {
      const size_t r = s.rfind('}', line_end == 0 ? 0 : line_end - 1);
      if (r != std::string::npos && r >= content && r < line_end) close = r;
    } else {
      const size_t r = s.find('}', content);
      if (r != std::string::npos && r < line_end) close = r;
    }
    if (close == std::string::npos) {  // no match here: the scan moves one character on
      out.append(s, i, p + 1 - i);
      i = p + 1;
      continue;
    }
    out.append(s, i, p - i);
    out.append(s, content, close - content);
    i = close + 1;
  }
  out.append(s, std::min(i, s.size()), std::string::npos);
  return out;
}

// re.sub(r'(frac)([^{])(.)', 'frac{\\2}{\\3}', s)
std::string FixFracs(const std::string& s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const size_t p = s.find("frac", i);
    if (p == std::string::npos) break;
    if (p + 5 < s.size() && s[p + 4] != '{' && s[p + 5] != '\n') {
      out.append(s, i, p - i);
      out += "frac{";
      out.push_back(s[p + 4]);
      out += "}{";
      out.push_back(s[p + 5]);
      out += "}";
      i = p + 6;
    } else {
      out.append(s, i, p + 1 - i);
      i = p + 1;
    }
  }
  out.append(s, std::min(i, s.size()), std::string::npos);
  return out;
}

// re.sub(r'(sqrt)([^{])', 'sqrt{\\2}', s)
std::string FixSqrts(const std::string& s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const size_t p = s.find("sqrt", i);
    if (p == std::string::npos) break;
    if (p + 4 < s.size() && s[p + 4] != '{') {
      out.append(s, i, p - i);
      out += "sqrt{";
      out.push_back(s[p + 4]);
      out += "}";
      i = p + 5;
    } else {
      out.append(s, i, p + 1 - i);
      i = p + 1;
    }
  }
  out.append(s, std::min(i, s.size()), std::string::npos);
  return out;
}

}  // namespace

std::string MinervaNormalizeTex(std::string_view in) {
  // 1. Keep what follows the last '='.
  const size_t eq = in.rfind('=');
  std::string s(eq == std::string_view::npos ? in : in.substr(eq + 1));
  // 2. Substitutions, in order.
  static const std::pair<const char*, const char*> kSubs[] = {
      {"an ", ""},           {"a ", ""},          {".$", "$"},       {"\\$", ""},          {"\\ ", ""},
      {" ", ""},             {"mbox", "text"},    {",\\text{and}", ","}, {"\\text{and}", ","}, {"\\text{m}", "\\text{}"}};
  for (const auto& [from, to] : kSubs) ReplaceAll(&s, from, to);
  // 3. Deletions, in order ("\\text{\ns}" holds a real line break).
  static const char* kRemoved[] = {
      "square",   "ways",      "integers",  "dollars",        "mph",       "inches",   "ft",         "hours",
      "km",       "units",     "\\ldots",   "sue",            "points",    "feet",     "minutes",    "digits",
      "cents",    "degrees",   "cm",        "gm",             "pounds",    "meters",   "meals",      "edges",
      "students", "childrentickets", "multiples", "\\text{s}", "\\text{.}", "\\text{\ns}", "\\text{}^2", "\\text{}^3",
      "\\text{\n}", "\\text{}", "\\mathrm{th}", "^\\circ",     "^{\\circ}", "\\;",      ",\\!",       "{,}",
      "\"",       "\\dots"};
  for (const char* r : kRemoved) ReplaceAll(&s, r, "");
  // 4. Regular-expression substitutions, in order.
  s = KeepFirstDollarSpan(s);
  s = UnwrapGroups(s, "\\text{", false);
  s = UnwrapGroups(s, "\\textbf{", false);
  s = UnwrapGroups(s, "\\overline{", false);
  s = UnwrapGroups(s, "\\boxed{", true);
  s = FixFracs(s);
  s = FixSqrts(s);
  // 5. No dollars.
  ReplaceAll(&s, "$", "");
  // 6. "1,000" → "1000" when only digits and commas remain.
  std::string no_commas;
  for (char c : s)
    if (c != ',') no_commas.push_back(c);
  const bool digits = !no_commas.empty() && std::all_of(no_commas.begin(), no_commas.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
  if (digits) s = no_commas;
  return s;
}

// ---------------------------------------------------------------------------
// Hendrycks' strip_string.

namespace {

struct PyError {};

// _fix_fracs
std::string HFixFracs(const std::string& s) {
  const std::vector<std::string> parts = Split(s, "\\frac");
  std::string out = parts[0];
  for (size_t k = 1; k < parts.size(); ++k) {
    const std::string& sub = parts[k];
    out += "\\frac";
    if (!sub.empty() && sub[0] == '{') {
      out += sub;
      continue;
    }
    if (sub.size() < 2) return s;  // the assert fails: the original string comes back
    const char a = sub[0], b = sub[1];
    if (b != '{') {
      out += std::string("{") + a + "}{" + b + "}" + sub.substr(2);
    } else {
      out += std::string("{") + a + "}" + b + sub.substr(2);
    }
  }
  return out;
}

// str(int(x)) == x for a canonical Python int literal.
bool CanonicalInt(const std::string& x) {
  size_t i = x[0] == '-' ? 1 : 0;
  if (i >= x.size()) return false;
  if (x[i] == '0' && x.size() > i + 1) return false;
  if (x == "-0") return false;
  for (; i < x.size(); ++i)
    if (x[i] < '0' || x[i] > '9') return false;
  return true;
}

std::string HFixASlashB(const std::string& s) {
  const size_t slash = s.find('/');
  if (slash == std::string::npos || s.find('/', slash + 1) != std::string::npos) return s;
  const std::string a = s.substr(0, slash), b = s.substr(slash + 1);
  if (a.empty() || b.empty() || !CanonicalInt(a) || !CanonicalInt(b)) return s;
  return "\\frac{" + a + "}{" + b + "}";
}

std::string HRemoveRightUnits(const std::string& s) {
  const size_t p = s.find("\\text{ ");
  if (p == std::string::npos) return s;
  if (s.find("\\text{ ", p + 1) != std::string::npos) throw PyError{};  // assert len(splits) == 2
  return s.substr(0, p);
}

std::string HFixSqrt(const std::string& s) {
  if (s.find("\\sqrt") == std::string::npos) return s;
  const std::vector<std::string> parts = Split(s, "\\sqrt");
  std::string out = parts[0];
  for (size_t k = 1; k < parts.size(); ++k) {
    const std::string& sp = parts[k];
    if (sp.empty()) throw PyError{};  // split[0] raises IndexError
    if (sp[0] != '{') {
      out += std::string("\\sqrt{") + sp[0] + "}" + sp.substr(1);
    } else {
      out += "\\sqrt" + sp;
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> HendrycksStripString(std::string_view in) {
  try {
    std::string s(in);
    ReplaceAll(&s, "\n", "");
    ReplaceAll(&s, "\\!", "");
    ReplaceAll(&s, "\\\\", "\\");
    ReplaceAll(&s, "tfrac", "frac");
    ReplaceAll(&s, "dfrac", "frac");
    ReplaceAll(&s, "\\left", "");
    ReplaceAll(&s, "\\right", "");
    ReplaceAll(&s, "^{\\circ}", "");
    ReplaceAll(&s, "^\\circ", "");
    ReplaceAll(&s, "\\$", "");
    s = HRemoveRightUnits(s);
    ReplaceAll(&s, "\\%", "");
    ReplaceAll(&s, " .", " 0.");
    ReplaceAll(&s, "{.", "{0.");
    if (s.empty()) return s;
    if (s[0] == '.') s = "0" + s;
    const size_t eq = s.find('=');
    if (eq != std::string::npos && s.find('=', eq + 1) == std::string::npos && eq <= 2) s = s.substr(eq + 1);
    s = HFixSqrt(s);
    ReplaceAll(&s, " ", "");
    s = HFixFracs(s);
    if (s == "0.5") s = "\\frac{1}{2}";
    s = HFixASlashB(s);
    return s;
  } catch (const PyError&) {
    return std::nullopt;
  }
}

bool HendrycksIsEquiv(std::string_view a, std::string_view b) {
  const auto sa = HendrycksStripString(a), sb = HendrycksStripString(b);
  if (!sa || !sb) return a == b;
  return *sa == *sb;
}

// ---------------------------------------------------------------------------
// OCW numeric answers.

namespace {

// A value of Python's numeric tower as far as arithmetic answers need.
struct PyNum {
  bool is_int = true;
  long long i = 0;
  double f = 0;
  double AsDouble() const { return is_int ? static_cast<double>(i) : f; }
};

class PyArith {
 public:
  explicit PyArith(std::string_view s) : s_(s) {}

  std::optional<double> Run() {
    try {
      Skip();
      PyNum v = Or();
      Skip();
      if (pos_ != s_.size()) return std::nullopt;
      return v.AsDouble();
    } catch (const PyError&) {
      return std::nullopt;
    }
  }

 private:
  void Skip() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  bool Eat(std::string_view op) {
    Skip();
    if (s_.substr(pos_, op.size()) == op) {
      pos_ += op.size();
      return true;
    }
    return false;
  }
  void Depth() {
    if (++depth_ > 100) throw PyError{};
  }

  static PyNum Int(long long v) { return PyNum{true, v, 0}; }
  static PyNum Float(double v) { return PyNum{false, 0, v}; }

  // '^' is bitwise xor in Python: integers only.
  PyNum Or() {
    PyNum a = Add();
    while (true) {
      Skip();
      if (pos_ < s_.size() && s_[pos_] == '^') {
        ++pos_;
        PyNum b = Add();
        if (!a.is_int || !b.is_int) throw PyError{};  // TypeError
        a = Int(a.i ^ b.i);
      } else {
        return a;
      }
    }
  }

  PyNum Add() {
    PyNum a = Mul();
    while (true) {
      if (Eat("+")) {
        a = Arith(a, Mul(), '+');
      } else if (Eat("-")) {
        a = Arith(a, Mul(), '-');
      } else {
        return a;
      }
    }
  }

  PyNum Mul() {
    PyNum a = Unary();
    while (true) {
      Skip();
      if (s_.substr(pos_, 2) == "**") return a;  // handled in Power
      if (Eat("//")) {
        a = Arith(a, Unary(), 'f');
      } else if (Eat("*")) {
        a = Arith(a, Unary(), '*');
      } else if (Eat("/")) {
        a = Arith(a, Unary(), '/');
      } else if (Eat("%")) {
        a = Arith(a, Unary(), '%');
      } else {
        return a;
      }
    }
  }

  PyNum Unary() {
    Depth();
    PyNum r;
    if (Eat("-")) {
      PyNum v = Unary();
      r = v.is_int ? Int(-v.i) : Float(-v.f);
    } else if (Eat("+")) {
      r = Unary();
    } else {
      r = Power();
    }
    --depth_;
    return r;
  }

  PyNum Power() {
    PyNum base = Atom();
    if (Eat("**")) {
      PyNum e = Unary();  // right-associative, binds tighter than a unary minus on its left
      if (base.is_int && e.is_int && e.i >= 0) {
        const double r = std::pow(static_cast<double>(base.i), static_cast<double>(e.i));
        if (std::abs(r) < 9.0e18) return Int(static_cast<long long>(std::llround(r)));
        return Float(r);  // beyond 64 bits: the float of the big integer
      }
      const double b = base.AsDouble(), x = e.AsDouble();
      if (b == 0 && x < 0) throw PyError{};  // ZeroDivisionError
      if (b < 0 && x != std::floor(x)) throw PyError{};  // a complex result: float() raises
      return Float(std::pow(b, x));
    }
    return base;
  }

  PyNum Atom() {
    Skip();
    if (Eat("(")) {
      Depth();
      PyNum v = Or();
      --depth_;
      if (!Eat(")")) throw PyError{};
      return v;
    }
    const size_t start = pos_;
    bool is_float = false;
    std::string digits;
    while (pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) {
      if (s_[pos_] != '_') digits.push_back(s_[pos_]);
      ++pos_;
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      is_float = true;
      digits.push_back('.');
      ++pos_;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) digits.push_back(s_[pos_++]);
    }
    if (digits.empty() || digits == ".") throw PyError{};
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      size_t q = pos_ + 1;
      if (q < s_.size() && (s_[q] == '+' || s_[q] == '-')) ++q;
      if (q < s_.size() && std::isdigit(static_cast<unsigned char>(s_[q]))) {
        is_float = true;
        digits.push_back('e');
        digits.append(s_.substr(pos_ + 1, q - pos_ - 1));
        pos_ = q;
        while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) digits.push_back(s_[pos_++]);
      }
    }
    if (pos_ < s_.size() && (std::isalpha(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) throw PyError{};
    if (!is_float) {
      if (digits.size() > 1 && digits[0] == '0' && digits.find_first_not_of('0') != std::string::npos)
        throw PyError{};  // "012" is a SyntaxError
      if (digits.size() > 18) return Float(std::strtod(digits.c_str(), nullptr));
      return Int(std::atoll(digits.c_str()));
    }
    (void)start;
    return Float(std::strtod(digits.c_str(), nullptr));
  }

  static PyNum Arith(PyNum a, PyNum b, char op) {
    if (a.is_int && b.is_int && op != '/') {
      switch (op) {
        case '+': return Int(a.i + b.i);
        case '-': return Int(a.i - b.i);
        case '*': return Int(a.i * b.i);
        case 'f':
        case '%': {
          if (b.i == 0) throw PyError{};
          long long q = a.i / b.i, r = a.i % b.i;
          if (r != 0 && ((r < 0) != (b.i < 0))) {  // Python floors
            --q;
            r += b.i;
          }
          return Int(op == 'f' ? q : r);
        }
      }
    }
    const double x = a.AsDouble(), y = b.AsDouble();
    switch (op) {
      case '+': return Float(x + y);
      case '-': return Float(x - y);
      case '*': return Float(x * y);
      case '/':
        if (y == 0) throw PyError{};
        return Float(x / y);
      case 'f':
        if (y == 0) throw PyError{};
        return Float(std::floor(x / y));
      case '%': {
        if (y == 0) throw PyError{};
        double r = std::fmod(x, y);
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        return Float(r);
      }
    }
    throw PyError{};
  }

  std::string_view s_;
  size_t pos_ = 0;
  int depth_ = 0;
};

std::string PyStripStr(std::string_view s, std::string_view chars) {
  size_t a = 0, b = s.size();
  while (a < b && chars.find(s[a]) != std::string_view::npos) ++a;
  while (b > a && chars.find(s[b - 1]) != std::string_view::npos) --b;
  return std::string(s.substr(a, b - a));
}

}  // namespace

std::optional<double> PythonArithmetic(std::string_view s) {
  const std::string t = PyStripStr(s, " \t\n\r\x0b\x0c");
  if (t.empty() || t.size() > 10000) return std::nullopt;
  return PyArith(t).Run();
}

std::optional<double> OcwNormalizeNumericCompat(
    std::string_view in, const std::function<std::optional<double>(std::string_view)>& latex_number) {
  static const char* kUnits[] = {"eV",
                                 " \\mathrm{~kg} \\cdot \\mathrm{m} / \\mathrm{s}",
                                 " kg m/s",
                                 "kg*m/s",
                                 "kg",
                                 "m/s",
                                 "m / s",
                                 "m s^{-1}",
                                 "\\text{ m/s}",
                                 " \\mathrm{m/s}",
                                 " \\text{ m/s}",
                                 "g/mole",
                                 "g/mol",
                                 "\\mathrm{~g}",
                                 "\\mathrm{~g} / \\mathrm{mol}",
                                 "W",
                                 "erg/s",
                                 "years",
                                 "year",
                                 "cm"};
  const char* kWs = " \t\n\r\x0b\x0c";
  std::string s(in);
  for (const char* u : kUnits) {
    ReplaceAll(&s, u, "");
    s = PyStripStr(s, kWs);
  }
  for (const char* u : {"\\mathrm{m}", "\\mathrm{s}", "\\mathrm{cm}", "\\mathrm{~m}", "\\mathrm{~s}", "\\mathrm{~cm}"})
    ReplaceAll(&s, u, "");
  s = PyStripStr(s, "$");
  if (auto v = PythonArithmetic(s)) return v;
  if (latex_number) return latex_number(s);
  return std::nullopt;
}

bool OcwNumericEqualityCompat(double n1, double n2) {
  auto isclose = [](double a, double b) {  // numpy: |a - b| <= atol + rtol * |b|
    return std::abs(a - b) <= 1e-8 + 1e-5 * std::abs(b);
  };
  if (isclose(n1, 0) || isclose(n2, 0) || isclose(n1 - n2, 0)) return std::abs(n1 - n2) < 0.01 * (n1 + n2) / 2;
  return isclose(n1, n2);
}

}  // namespace llemma::math
