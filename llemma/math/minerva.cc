#include "llemma/math/minerva.h"

#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include "llemma/math/extract.h"
#include "llemma/math/text_util.h"

namespace llemma::math {
namespace {

using text::IsAlpha;
using text::IsDigit;
using text::ReplaceAll;
using text::Split;

// Python len() of a str: code points (malformed bytes count one each).
size_t CharCount(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); i += PyCharLen(s, i)) ++n;
  return n;
}

// The position of the next `c` at or after `from` (s.size() if none), with a
// cache so that calls with non-decreasing `from` cost O(|s|) in total.
class NextFinder {
 public:
  NextFinder(const std::string& s, char c) : s_(s), c_(c) {}
  size_t From(size_t from) {
    if (!valid_ || pos_ < from) {
      pos_ = s_.find(c_, from);
      if (pos_ == std::string::npos) pos_ = s_.size();
      valid_ = true;
    }
    return pos_;
  }

 private:
  const std::string& s_;
  char c_;
  size_t pos_ = 0;
  bool valid_ = false;
};

// --- normalize_tex regex steps ----------------------------------------------

// re.sub(r"(.*?)(\$)(.*?)(\$)(.*)", "$\\3$", s). '.' stops at '\n', so the
// pattern matches a whole line from its start when the line holds two '$';
// that line becomes its first $…$ span. Lines with fewer '$' stay.
std::string KeepFirstDollarSpan(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  size_t start = 0;
  while (true) {
    const size_t nl = s.find('\n', start);
    const size_t end = nl == std::string::npos ? s.size() : nl;
    const std::string_view line(s.data() + start, end - start);
    const size_t a = line.find('$');
    const size_t b = a == std::string_view::npos ? a : line.find('$', a + 1);
    if (b != std::string_view::npos) {
      out.append(line.substr(a, b - a + 1));
    } else {
      out.append(line);
    }
    if (nl == std::string::npos) return out;
    out.push_back('\n');
    start = nl + 1;
  }
}

// re.sub(r"(<open>)(.*?)(\})", "\\2", s): `open` up to the first '}' of the
// same line becomes its content. Where no '}' follows on the line, the scan
// moves one character on.
std::string UnwrapLazy(const std::string& s, std::string_view open) {
  std::string out;
  out.reserve(s.size());
  NextFinder newline(s, '\n'), brace(s, '}');
  size_t i = 0;
  for (size_t p = s.find(open); p != std::string::npos; p = s.find(open, i)) {
    const size_t content = p + open.size();
    const size_t close = brace.From(content);
    if (close < newline.From(content)) {
      out.append(s, i, p - i);
      out.append(s, content, close - content);
      i = close + 1;
    } else {
      out.append(s, i, p + 1 - i);
      i = p + 1;
    }
  }
  out.append(s, i, std::string::npos);
  return out;
}

// re.sub(r"(\\boxed\{)(.*)(\})", "\\2", s): greedy, so "\boxed{" up to the
// last '}' of its line becomes the content.
std::string UnwrapBoxedGreedy(const std::string& s) {
  constexpr std::string_view kOpen = "\\boxed{";
  std::string out;
  out.reserve(s.size());
  NextFinder newline(s, '\n');
  size_t cached_line_end = std::string::npos, cached_last = std::string::npos;
  size_t i = 0;
  for (size_t p = s.find(kOpen); p != std::string::npos; p = s.find(kOpen, i)) {
    const size_t content = p + kOpen.size();
    const size_t line_end = newline.From(content);
    if (line_end != cached_line_end) {  // the last '}' in [content, line_end), once per line
      cached_line_end = line_end;
      cached_last = std::string::npos;
      for (size_t k = line_end; k > content; --k) {
        if (s[k - 1] == '}') {
          cached_last = k - 1;
          break;
        }
      }
    }
    if (cached_last != std::string::npos && cached_last >= content) {
      out.append(s, i, p - i);
      out.append(s, content, cached_last - content);
      i = cached_last + 1;
    } else {
      out.append(s, i, p + 1 - i);
      i = p + 1;
    }
  }
  out.append(s, i, std::string::npos);
  return out;
}

// re.sub(r"(frac)([^{])(.)", "frac{\\2}{\\3}", s) and, with `two` false,
// re.sub(r"(sqrt)([^{])", "sqrt{\\2}", s). [^{] takes any character but '{'
// (a line break too); '.' any character but a line break.
std::string BraceShorthand(const std::string& s, std::string_view word, bool two) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  for (size_t p = s.find(word); p != std::string::npos; p = s.find(word, i)) {
    const size_t a = p + word.size();
    bool matched = false;
    if (a < s.size() && s[a] != '{') {
      const size_t b = a + PyCharLen(s, a);
      if (!two) {
        out.append(s, i, p - i).append(word).append("{").append(s, a, b - a).append("}");
        i = b;
        matched = true;
      } else if (b < s.size() && s[b] != '\n') {
        const size_t e = b + PyCharLen(s, b);
        out.append(s, i, p - i).append(word).append("{").append(s, a, b - a).append("}{");
        out.append(s, b, e - b).append("}");
        i = e;
        matched = true;
      }
    }
    if (!matched) {
      out.append(s, i, p + 1 - i);
      i = p + 1;
    }
  }
  out.append(s, i, std::string::npos);
  return out;
}

// --- Hendrycks' _strip_string helpers; false where Python raises -------------

// _fix_fracs: "\fracab" → "\frac{a}{b}", "\fraca{b}" → "\frac{a}{b}" (a, b
// single characters). A part of one character after "\frac" makes the whole
// function return its input; an empty part (IndexError on substr[0]) raises.
bool HFixFracs(std::string* s) {
  const std::vector<std::string> parts = Split(*s, "\\frac");
  std::string out = parts[0];
  for (size_t k = 1; k < parts.size(); ++k) {
    const std::string& sub = parts[k];
    out += "\\frac";
    if (sub.empty()) return false;
    if (sub[0] == '{') {
      out += sub;
      continue;
    }
    const size_t la = PyCharLen(sub, 0);
    if (la >= sub.size()) return true;  // len(substr) < 2: `return string`, unchanged
    const size_t lb = PyCharLen(sub, la);
    const std::string a = sub.substr(0, la), b = sub.substr(la, lb), post = sub.substr(la + lb);
    if (b != "{") {
      out += "{" + a + "}{" + b + "}" + post;
    } else {
      out += "{" + a + "}" + b + post;
    }
  }
  *s = std::move(out);
  return true;
}

// str(int(x)) == x: "0", or an optional '-' and digits not starting with 0.
bool IsCanonicalInt(std::string_view x) {
  const bool negative = !x.empty() && x[0] == '-';
  if (negative) x.remove_prefix(1);
  if (x.empty()) return false;
  for (char c : x)
    if (!IsDigit(c)) return false;
  return x[0] != '0' || (x.size() == 1 && !negative);  // "-0" and "01" fail the round trip
}

// _fix_a_slash_b: "a/b" with canonical ints a, b → "\frac{a}{b}".
void HFixASlashB(std::string* s) {
  const std::vector<std::string> parts = Split(*s, "/");
  if (parts.size() != 2 || !IsCanonicalInt(parts[0]) || !IsCanonicalInt(parts[1])) return;
  *s = "\\frac{" + parts[0] + "}{" + parts[1] + "}";
}

// _remove_right_units: everything from "\text{ " on goes; two of them raise.
bool HRemoveRightUnits(std::string* s) {
  const std::vector<std::string> parts = Split(*s, "\\text{ ");
  if (parts.size() == 1) return true;
  if (parts.size() != 2) return false;
  *s = parts[0];
  return true;
}

// _fix_sqrt: "\sqrtx" → "\sqrt{x}" (x one character); "\sqrt" at the very
// end raises (IndexError on split[0]).
bool HFixSqrt(std::string* s) {
  if (s->find("\\sqrt") == std::string::npos) return true;
  const std::vector<std::string> parts = Split(*s, "\\sqrt");
  std::string out = parts[0];
  for (size_t k = 1; k < parts.size(); ++k) {
    const std::string& part = parts[k];
    if (part.empty()) return false;
    if (part[0] != '{') {
      const size_t la = PyCharLen(part, 0);
      out += "\\sqrt{" + part.substr(0, la) + "}" + part.substr(la);
    } else {
      out += "\\sqrt" + part;
    }
  }
  *s = std::move(out);
  return true;
}

// --- Python arithmetic ------------------------------------------------------

// An int (exact in 64 bits, else a double approximation that may be
// infinite) or a float.
struct PyValue {
  enum class Kind { kInt, kBigInt, kFloat };
  Kind kind = Kind::kInt;
  int64_t i = 0;
  double f = 0;

  static PyValue Int(int64_t v) { return {Kind::kInt, v, 0}; }
  static PyValue Big(double v) { return {Kind::kBigInt, 0, v}; }
  static PyValue Float(double v) { return {Kind::kFloat, 0, v}; }
  bool IsInt() const { return kind != Kind::kFloat; }
  // The value an int would have as a Python float, or the float.
  double Approx() const { return kind == Kind::kInt ? static_cast<double>(i) : f; }
};

struct PyRaise {};  // what would be a Python exception; caught at the entry

// float(v): a huge int raises OverflowError.
double ToFloat(const PyValue& v) {
  if (v.kind == PyValue::Kind::kBigInt && !std::isfinite(v.f)) throw PyRaise{};
  return v.Approx();
}

struct Token {
  enum class Type { kNumber, kOp, kLParen, kRParen, kEnd };
  Type type = Type::kEnd;
  std::string_view text;
  PyValue value;
};

// Python's float ** float (float_pow), for finite or infinite operands.
double FloatPow(double x, double y) {
  if (y == 0) return 1.0;
  if (x == 0 && y < 0) throw PyRaise{};  // ZeroDivisionError
  if (x < 0 && std::isfinite(x) && std::isfinite(y) && y != std::floor(y))
    throw PyRaise{};  // complex
  const double r = std::pow(x, y);
  if (std::isinf(r) && std::isfinite(x) && std::isfinite(y)) throw PyRaise{};  // OverflowError
  return r;
}

class Arithmetic {
 public:
  explicit Arithmetic(std::string_view s) : s_(s) {}

  // float(eval(s)); throws PyRaise.
  double Run() {
    Tokenize();
    PyValue v = Or();
    if (tokens_[pos_].type != Token::Type::kEnd) throw PyRaise{};
    return ToFloat(v);
  }

 private:
  static constexpr int kMaxParenDepth = 200;  // CPython's tokenizer limit

  // --- tokens ---
  void Tokenize() {
    int depth = 0;
    size_t i = 0;
    while (true) {
      while (i < s_.size() && (s_[i] == ' ' || s_[i] == '\t' || s_[i] == '\f' ||
                               (depth > 0 && (s_[i] == '\n' || s_[i] == '\r')))) {
        ++i;
      }
      if (i >= s_.size()) break;
      const char c = s_[i];
      Token t;
      if (IsDigit(c) || (c == '.' && i + 1 < s_.size() && IsDigit(s_[i + 1]))) {
        i = Number(i, &t);
      } else if (IsAlpha(c) || c == '_') {
        size_t j = i;
        while (j < s_.size() && (IsAlpha(s_[j]) || IsDigit(s_[j]) || s_[j] == '_')) ++j;
        const std::string_view name = s_.substr(i, j - i);
        if (name != "True" && name != "False") throw PyRaise{};  // a name we do not evaluate
        t.type = Token::Type::kNumber;
        t.value = PyValue::Int(name == "True" ? 1 : 0);
        i = j;
      } else if (c == '(' || c == ')') {
        depth += c == '(' ? 1 : -1;
        if (depth < 0 || depth >= kMaxParenDepth) throw PyRaise{};
        t.type = c == '(' ? Token::Type::kLParen : Token::Type::kRParen;
        ++i;
      } else if ((c == '*' || c == '/') && i + 1 < s_.size() && s_[i + 1] == c) {
        t.type = Token::Type::kOp;
        t.text = s_.substr(i, 2);
        i += 2;
      } else if (std::string_view("+-*/%~&^|").find(c) != std::string_view::npos) {
        t.type = Token::Type::kOp;
        t.text = s_.substr(i, 1);
        ++i;
      } else {
        throw PyRaise{};
      }
      if (t.type == Token::Type::kOp && i < s_.size() && s_[i] == '=')
        throw PyRaise{};  // "+=", "**="
      tokens_.push_back(t);
    }
    if (depth != 0) throw PyRaise{};
    tokens_.push_back(Token{});
  }

  // A Python number literal at s_[i]; returns the position after it.
  size_t Number(size_t i, Token* t) {
    t->type = Token::Type::kNumber;
    // digitpart: digits with single '_' between digits.
    auto digitpart = [&](size_t j, auto is_digit) {
      if (j >= s_.size() || !is_digit(s_[j])) return j;
      ++j;
      while (j < s_.size()) {
        if (is_digit(s_[j])) {
          ++j;
        } else if (s_[j] == '_' && j + 1 < s_.size() && is_digit(s_[j + 1])) {
          j += 2;
        } else {
          break;
        }
      }
      return j;
    };
    auto dec = [](char c) { return IsDigit(c); };
    std::string clean;  // the literal without '_'
    auto take = [&](size_t from, size_t to) {
      for (size_t k = from; k < to; ++k)
        if (s_[k] != '_') clean.push_back(s_[k]);
    };
    // 0x / 0o / 0b integers.
    if (s_[i] == '0' && i + 1 < s_.size() &&
        std::string_view("xXoObB").find(s_[i + 1]) != std::string_view::npos) {
      const char kind = static_cast<char>(s_[i + 1] | 0x20);
      const int base = kind == 'x' ? 16 : kind == 'o' ? 8 : 2;
      auto digit_value = [](char c) {
        if (IsDigit(c)) return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return 99;
      };
      size_t j = i + 2;
      if (j < s_.size() && s_[j] == '_') ++j;  // "0x_1f" is allowed
      const auto in_base = [&](char c) { return digit_value(c) < base; };
      const size_t end = digitpart(j, in_base);
      if (end == j || (end < s_.size() && (IsAlpha(s_[end]) || IsDigit(s_[end]) || s_[end] == '_')))
        throw PyRaise{};
      double approx = 0;
      uint64_t exact = 0;
      bool big = false;
      for (size_t k = j; k < end; ++k) {
        if (s_[k] == '_') continue;
        const int d = digit_value(s_[k]);
        approx = approx * base + d;
        if (exact > (static_cast<uint64_t>(INT64_MAX) - d) / base) big = true;
        if (!big) exact = exact * base + d;
      }
      t->value = big ? PyValue::Big(approx) : PyValue::Int(static_cast<int64_t>(exact));
      return end;
    }
    bool is_float = false;
    size_t j = digitpart(i, dec);
    take(i, j);
    if (j < s_.size() && s_[j] == '.') {
      is_float = true;
      clean.push_back('.');
      const size_t frac_end = digitpart(j + 1, dec);
      take(j + 1, frac_end);
      j = frac_end;
    }
    if (j < s_.size() && (s_[j] == 'e' || s_[j] == 'E')) {
      size_t k = j + 1;
      if (k < s_.size() && (s_[k] == '+' || s_[k] == '-')) ++k;
      const size_t exp_end = digitpart(k, dec);
      if (exp_end == k) throw PyRaise{};  // "1e", "1e+": invalid literal
      is_float = true;
      clean.push_back('e');
      take(j + 1, exp_end);
      j = exp_end;
    }
    // "5j" is complex (float() raises); "5x", "1_" are syntax errors.
    if (j < s_.size() && (IsAlpha(s_[j]) || IsDigit(s_[j]) || s_[j] == '_' || s_[j] == '.'))
      throw PyRaise{};
    if (is_float) {
      t->value = PyValue::Float(std::strtod(clean.c_str(), nullptr));
      return j;
    }
    // Decimal int: "0", "00" are fine, "012" is a syntax error.
    if (clean.size() > 1 && clean[0] == '0' && clean.find_first_not_of('0') != std::string::npos)
      throw PyRaise{};
    int64_t v = 0;
    bool big = false;
    for (char c : clean) {
      const int d = c - '0';
      if (v > (INT64_MAX - d) / 10) {
        big = true;
        break;
      }
      v = v * 10 + d;
    }
    t->value = big ? PyValue::Big(std::strtod(clean.c_str(), nullptr)) : PyValue::Int(v);
    return j;
  }

  // --- grammar (Python precedence, lowest first) ---
  bool AtOp(std::string_view op) const {
    return tokens_[pos_].type == Token::Type::kOp && tokens_[pos_].text == op;
  }

  PyValue Or() {
    PyValue a = Xor();
    while (AtOp("|")) {
      ++pos_;
      a = Bitwise(a, Xor(), '|');
    }
    return a;
  }
  PyValue Xor() {
    PyValue a = And();
    while (AtOp("^")) {
      ++pos_;
      a = Bitwise(a, And(), '^');
    }
    return a;
  }
  PyValue And() {
    PyValue a = Sum();
    while (AtOp("&")) {
      ++pos_;
      a = Bitwise(a, Sum(), '&');
    }
    return a;
  }
  PyValue Sum() {
    PyValue a = Term();
    while (AtOp("+") || AtOp("-")) {
      const char op = tokens_[pos_++].text[0];
      a = Binary(a, Term(), op);
    }
    return a;
  }
  PyValue Term() {
    PyValue a = Factor();
    while (AtOp("*") || AtOp("/") || AtOp("//") || AtOp("%")) {
      const std::string_view op = tokens_[pos_++].text;
      a = Binary(a, Factor(), op == "//" ? 'f' : op[0]);
    }
    return a;
  }

  // factor: ('+'|'-'|'~')* power, power: atom ['**' factor]. A chain
  // u0 a0 ** u1 a1 ** … ** un an is evaluated right to left without
  // recursion: v = un(an); v = u(k)(a(k) ** v) for k = n-1 … 0.
  PyValue Factor() {
    std::vector<std::string> signs;  // the unary operators before each atom
    std::vector<PyValue> atoms;
    while (true) {
      std::string ops;
      while (AtOp("+") || AtOp("-") || AtOp("~")) ops.push_back(tokens_[pos_++].text[0]);
      signs.push_back(std::move(ops));
      atoms.push_back(Atom());
      if (!AtOp("**")) break;
      ++pos_;
    }
    PyValue v = ApplyUnary(signs.back(), atoms.back());
    for (size_t k = atoms.size() - 1; k-- > 0;) v = ApplyUnary(signs[k], Power(atoms[k], v));
    return v;
  }

  PyValue Atom() {
    const Token& t = tokens_[pos_];
    if (t.type == Token::Type::kNumber) {
      ++pos_;
      return t.value;
    }
    if (t.type == Token::Type::kLParen) {  // depth bounded by the tokenizer
      ++pos_;
      PyValue v = Or();
      if (tokens_[pos_].type != Token::Type::kRParen) throw PyRaise{};
      ++pos_;
      return v;
    }
    throw PyRaise{};
  }

  // --- operations ---
  static PyValue ApplyUnary(const std::string& ops, PyValue v) {
    for (size_t k = ops.size(); k-- > 0;) {
      const char op = ops[k];
      if (op == '+') continue;
      if (op == '~') {  // ~x == -x - 1, ints only
        if (!v.IsInt()) throw PyRaise{};
        v = v.kind == PyValue::Kind::kInt ? PyValue::Int(-(v.i + 1)) : PyValue::Big(-v.f - 1);
        continue;
      }
      if (v.kind == PyValue::Kind::kInt) {
        v = v.i == INT64_MIN ? PyValue::Big(-static_cast<double>(v.i)) : PyValue::Int(-v.i);
      } else {
        v.f = -v.f;
      }
    }
    return v;
  }

  static PyValue Bitwise(const PyValue& a, const PyValue& b, char op) {
    if (a.kind != PyValue::Kind::kInt || b.kind != PyValue::Kind::kInt)
      throw PyRaise{};  // floats: TypeError
    switch (op) {
      case '&':
        return PyValue::Int(a.i & b.i);
      case '^':
        return PyValue::Int(a.i ^ b.i);
      default:
        return PyValue::Int(a.i | b.i);
    }
  }

  static PyValue Power(const PyValue& a, const PyValue& b) {
    if (a.kind == PyValue::Kind::kInt && b.kind == PyValue::Kind::kInt && b.i >= 0) {
      // Exact by repeated squaring while it fits, else the double estimate.
      int64_t result = 1, base = a.i, e = b.i;
      bool big = false;
      while (e > 0 && !big) {
        if (e & 1) big = __builtin_mul_overflow(result, base, &result);
        e >>= 1;
        if (e > 0 && !big) big = __builtin_mul_overflow(base, base, &base);
      }
      if (!big) return PyValue::Int(result);
      return PyValue::Big(std::pow(static_cast<double>(a.i), static_cast<double>(b.i)));
    }
    if (a.IsInt() && b.IsInt() && b.Approx() >= 0)  // a big int is involved: estimate
      return PyValue::Big(std::pow(a.Approx(), b.Approx()));
    return PyValue::Float(FloatPow(ToFloat(a), ToFloat(b)));
  }

  static PyValue Binary(const PyValue& a, const PyValue& b, char op) {
    if (a.kind == PyValue::Kind::kInt && b.kind == PyValue::Kind::kInt) {
      int64_t r = 0;
      switch (op) {
        case '+':
          if (!__builtin_add_overflow(a.i, b.i, &r)) return PyValue::Int(r);
          return PyValue::Big(static_cast<double>(a.i) + static_cast<double>(b.i));
        case '-':
          if (!__builtin_sub_overflow(a.i, b.i, &r)) return PyValue::Int(r);
          return PyValue::Big(static_cast<double>(a.i) - static_cast<double>(b.i));
        case '*':
          if (!__builtin_mul_overflow(a.i, b.i, &r)) return PyValue::Int(r);
          return PyValue::Big(static_cast<double>(a.i) * static_cast<double>(b.i));
        case 'f':
        case '%': {
          if (b.i == 0) throw PyRaise{};  // ZeroDivisionError
          if (a.i == INT64_MIN && b.i == -1)
            return op == 'f' ? PyValue::Big(9223372036854775808.0) : PyValue::Int(0);
          int64_t q = a.i / b.i, m = a.i % b.i;
          if (m != 0 && ((m < 0) != (b.i < 0))) {  // Python rounds the quotient down
            --q;
            m += b.i;
          }
          return PyValue::Int(op == 'f' ? q : m);
        }
        case '/':
          if (b.i == 0) throw PyRaise{};
          return PyValue::Float(static_cast<double>(a.i) / static_cast<double>(b.i));
      }
    }
    if (a.IsInt() && b.IsInt() && op != '/') {  // a big int is involved: estimate
      const double x = a.Approx(), y = b.Approx();
      if (y == 0 && (op == 'f' || op == '%')) throw PyRaise{};
      if (op == '+') return PyValue::Big(x + y);
      if (op == '-') return PyValue::Big(x - y);
      if (op == '*') return PyValue::Big(x * y);
      return PyValue::Big(op == 'f' ? FloorDiv(x, y) : FloatMod(x, y));
    }
    const double x = ToFloat(a), y = ToFloat(b);
    switch (op) {
      case '+':
        return PyValue::Float(x + y);
      case '-':
        return PyValue::Float(x - y);
      case '*':
        return PyValue::Float(x * y);
      case '/':
        if (y == 0) throw PyRaise{};
        return PyValue::Float(x / y);
      case 'f':
        if (y == 0) throw PyRaise{};
        return PyValue::Float(FloorDiv(x, y));
      default:
        if (y == 0) throw PyRaise{};
        return PyValue::Float(FloatMod(x, y));
    }
  }

  // CPython's float_floor_div / float_rem (Objects/floatobject.c semantics).
  static double FloatMod(double x, double y) {
    double mod = std::fmod(x, y);
    if (mod != 0) {
      if ((y < 0) != (mod < 0)) mod += y;
    } else {
      mod = std::copysign(0.0, y);
    }
    return mod;
  }
  static double FloorDiv(double x, double y) {
    const double mod = std::fmod(x, y);
    double div = (x - mod) / y;
    if (mod != 0 && ((y < 0) != (mod < 0))) div -= 1.0;
    if (div == 0) return std::copysign(0.0, x / y);
    double floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
    return floordiv;
  }

  std::string_view s_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

bool IsPyAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

}  // namespace

// ---------------------------------------------------------------------------
// Minerva normalize_tex.

std::string MinervaNormalizeTex(std::string_view in) {
  // 1. final_answer.split("=")[-1]: what follows the last '='.
  const size_t eq = in.rfind('=');
  std::string s(eq == std::string_view::npos ? in : in.substr(eq + 1));

  // 2. SUBSTITUTIONS, in order (str.replace: all, left to right). "an " and
  //    "a " also hit the ends of words ("\tan x" → "\tx").
  static constexpr std::pair<std::string_view, std::string_view> kSubstitutions[] = {
      {"an ", ""},          {"a ", ""},
      {".$", "$"},          {"\\$", ""},
      {"\\ ", ""},          {" ", ""},
      {"mbox", "text"},     {",\\text{and}", ","},
      {"\\text{and}", ","}, {"\\text{m}", "\\text{}"},
  };
  for (const auto& [from, to] : kSubstitutions) ReplaceAll(&s, from, to);

  // 3. REMOVED_EXPRESSIONS, in order. "\\text{\ns}" and "\\text{\n}" hold a
  //    real line break (Python "\n" in a non-raw string).
  static constexpr std::string_view kRemoved[] = {
      "square",       "ways",
      "integers",     "dollars",
      "mph",          "inches",
      "ft",           "hours",
      "km",           "units",
      "\\ldots",      "sue",
      "points",       "feet",
      "minutes",      "digits",
      "cents",        "degrees",
      "cm",           "gm",
      "pounds",       "meters",
      "meals",        "edges",
      "students",     "childrentickets",
      "multiples",    "\\text{s}",
      "\\text{.}",    "\\text{\ns}",
      "\\text{}^2",   "\\text{}^3",
      "\\text{\n}",   "\\text{}",
      "\\mathrm{th}", "^\\circ",
      "^{\\circ}",    "\\;",
      ",\\!",         "{,}",
      "\"",           "\\dots",
  };
  for (std::string_view r : kRemoved) ReplaceAll(&s, r, "");

  // 4a. (.*?)(\$)(.*?)(\$)(.*) → $\3$: each line with two '$' becomes its
  //     first $…$ span.
  s = KeepFirstDollarSpan(s);
  // 4b-d. (\\text\{)(.*?)(\}) → \2, then \textbf{…}, then \overline{…}: lazy,
  //       up to the first '}' of the same line.
  s = UnwrapLazy(s, "\\text{");
  s = UnwrapLazy(s, "\\textbf{");
  s = UnwrapLazy(s, "\\overline{");
  // 4e. (\\boxed\{)(.*)(\}) → \2: greedy, up to the last '}' of the line.
  s = UnwrapBoxedGreedy(s);
  // 4f. (frac)([^{])(.) → frac{\2}{\3}.
  s = BraceShorthand(s, "frac", /*two=*/true);
  // 4g. (sqrt)([^{]) → sqrt{\2}.
  s = BraceShorthand(s, "sqrt", /*two=*/false);

  // 5. final_answer.replace("$", "").
  ReplaceAll(&s, "$", "");

  // 6. if final_answer.replace(",", "").isdigit(): drop the commas. (Python's
  //    isdigit also accepts non-ASCII digits such as '²'; we test ASCII.)
  std::string no_commas = s;
  ReplaceAll(&no_commas, ",", "");
  bool all_digits = !no_commas.empty();
  for (char c : no_commas) all_digits = all_digits && IsDigit(c);
  if (all_digits) s = std::move(no_commas);
  return s;
}

// ---------------------------------------------------------------------------
// Hendrycks MATH is_equiv.

std::optional<std::string> HendrycksTryStripString(std::string_view in) {
  std::string s(in);
  ReplaceAll(&s, "\n", "");         // line breaks
  ReplaceAll(&s, "\\!", "");        // inverse spaces
  ReplaceAll(&s, "\\\\", "\\");     // "\\" → "\"
  ReplaceAll(&s, "tfrac", "frac");  // \tfrac, \dfrac → \frac
  ReplaceAll(&s, "dfrac", "frac");
  ReplaceAll(&s, "\\left", "");  // \left, \right
  ReplaceAll(&s, "\\right", "");
  ReplaceAll(&s, "^{\\circ}", "");  // degrees
  ReplaceAll(&s, "^\\circ", "");
  ReplaceAll(&s, "\\$", "");                        // dollar signs
  if (!HRemoveRightUnits(&s)) return std::nullopt;  // units on the right
  ReplaceAll(&s, "\\%", "");                        // percent
  ReplaceAll(&s, "%", "");
  ReplaceAll(&s, " .", " 0.");  // " .5" → " 0.5", "{.5" → "{0.5"
  ReplaceAll(&s, "{.", "{0.");
  if (s.empty()) return s;
  if (s[0] == '.') s = "0" + s;
  // "k = 5" → " 5": one '=' and at most two characters before it.
  const std::vector<std::string> sides = Split(s, "=");
  if (sides.size() == 2 && CharCount(sides[0]) <= 2) s = sides[1];
  if (!HFixSqrt(&s)) return std::nullopt;   // "\sqrt3" → "\sqrt{3}"
  ReplaceAll(&s, " ", "");                  // spaces
  if (!HFixFracs(&s)) return std::nullopt;  // "\frac12" → "\frac{1}{2}"
  if (s == "0.5") s = "\\frac{1}{2}";
  HFixASlashB(&s);  // "3/4" → "\frac{3}{4}"
  return s;
}

std::string HendrycksStripString(std::string_view s) {
  std::optional<std::string> stripped = HendrycksTryStripString(s);
  return stripped ? std::move(*stripped) : std::string(s);
}

bool HendrycksIsEquiv(std::string_view a, std::string_view b) {
  const std::optional<std::string> sa = HendrycksTryStripString(a);
  const std::optional<std::string> sb = HendrycksTryStripString(b);
  if (!sa || !sb) return a == b;  // the bare `except: return str1 == str2`
  return *sa == *sb;
}

// ---------------------------------------------------------------------------
// OCW numeric answers.

std::optional<double> PythonArithmetic(std::string_view s) {
  while (!s.empty() && IsPyAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsPyAsciiSpace(s.back())) s.remove_suffix(1);
  if (s.empty()) return std::nullopt;
  try {
    return Arithmetic(s).Run();
  } catch (const PyRaise&) {
    return std::nullopt;
  } catch (const std::bad_alloc&) {
    return std::nullopt;
  }
}

std::optional<double> OcwNormalizeNumericCompat(
    std::string_view in,
    const std::function<std::optional<double>(std::string_view)>& latex_number) {
  // 1. Unit strings, in order, each followed by s.strip().
  static constexpr std::string_view kUnits[] = {
      "eV",
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
      "cm",
  };
  std::string s(in);
  for (std::string_view unit : kUnits) {
    ReplaceAll(&s, unit, "");
    s = PyStrip(s);
  }
  // 2. For m, s, cm: "\mathrm{u}" and "\mathrm{~u}" removed, then strip.
  for (std::string_view unit :
       {std::string_view("m"), std::string_view("s"), std::string_view("cm")}) {
    ReplaceAll(&s, "\\mathrm{" + std::string(unit) + "}", "");
    ReplaceAll(&s, "\\mathrm{~" + std::string(unit) + "}", "");
    s = PyStrip(s);
  }
  // 3. s.strip("$").
  s = PyStrip(s, "$");
  // 4. float(eval(s)).
  if (std::optional<double> v = PythonArithmetic(s)) return v;
  // 5. parse_latex(s), when it is a number.
  if (latex_number) return latex_number(s);
  // 6. "[invalidanswer]".
  return std::nullopt;
}

bool OcwNumericEqualityCompat(double n1, double n2) {
  auto isclose = [](double a, double b) {  // numpy.isclose, rtol=1e-5, atol=1e-8, equal_nan=False
    if (std::isinf(a) || std::isinf(b)) return a == b;
    return std::abs(a - b) <= 1e-8 + 1e-5 * std::abs(b);
  };
  if (isclose(n1, 0) || isclose(n2, 0) || isclose(n1 - n2, 0))
    return std::abs(n1 - n2) < 0.01 * (n1 + n2) / 2;
  return isclose(n1, n2);
}

}  // namespace llemma::math
