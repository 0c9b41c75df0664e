#include "llemma/math/equiv.h"

#include <ginac/ginac.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>

namespace llemma::math {
namespace {

using C = std::complex<long double>;
using Env = std::map<std::string, C>;

constexpr size_t kMaxSymbolicNodes = 400;  // larger trees skip GiNaC
constexpr long kMaxExactExponent = 4096;   // |n| in x^n that GiNaC may expand
constexpr size_t kMaxIntegerDigits = 400;

Verdict Yes(std::string why) { return {true, false, std::move(why)}; }
Verdict No(std::string why) { return {false, false, std::move(why)}; }

bool Finite(C v) { return std::isfinite(v.real()) && std::isfinite(v.imag()); }

// ---------------------------------------------------------------------------
// ± expansion: "1 \pm \sqrt{2}" is the two answers 1 + √2 and 1 − √2.

bool HasPm(const Node& n) {
  if (n.kind == Node::Kind::kFunc && n.text == "pm") return true;
  for (const Node& k : n.kids)
    if (HasPm(k)) return true;
  return false;
}

void ExpandPmInto(const Node& n, std::vector<Node>* out, int budget) {
  // Replace the first ± by + and −, recursively; budget bounds the blow-up.
  std::function<bool(const Node&, Node*, bool)> rewrite = [&](const Node& x, Node* y, bool plus) -> bool {
    if (x.kind == Node::Kind::kFunc && x.text == "pm") {
      *y = plus ? x.kids[0] : Negate(x.kids[0]);
      return true;
    }
    *y = x;
    for (size_t i = 0; i < x.kids.size(); ++i) {
      Node k;
      if (rewrite(x.kids[i], &k, plus)) {
        y->kids[i] = std::move(k);
        return true;
      }
    }
    return false;
  };
  if (!HasPm(n) || budget <= 1) {
    out->push_back(n);
    return;
  }
  for (bool plus : {true, false}) {
    Node y;
    rewrite(n, &y, plus);
    ExpandPmInto(y, out, budget / 2);
  }
}

Answer ExpandPm(const Answer& a) {
  if (a.kind != Answer::Kind::kExpr || !HasPm(a.expr)) return a;
  std::vector<Node> variants;
  ExpandPmInto(a.expr, &variants, 16);
  Answer list;
  list.kind = Answer::Kind::kList;
  for (Node& v : variants) {
    Answer e = a;
    e.expr = std::move(v);
    list.items.push_back(std::move(e));
  }
  return list;
}

// ---------------------------------------------------------------------------
// GiNaC conversion, under one lock (GiNaC's reference counts are not atomic).

std::mutex& GinacMutex() {
  static std::mutex m;
  return m;
}

struct TooBig {};

GiNaC::ex ToEx(const Node& n, std::map<std::string, GiNaC::symbol>* syms) {
  using namespace GiNaC;
  switch (n.kind) {
    case Node::Kind::kNumber: {
      std::string digits = n.text;
      bool neg = false;
      if (!digits.empty() && digits[0] == '-') {
        neg = true;
        digits.erase(0, 1);
      }
      const size_t dot = digits.find('.');
      std::string den = "1";
      if (dot != std::string::npos) {
        den = "1" + std::string(digits.size() - dot - 1, '0');
        digits.erase(dot, 1);
      }
      while (digits.size() > 1 && digits[0] == '0') digits.erase(0, 1);
      if (digits.size() > kMaxIntegerDigits || den.size() > kMaxIntegerDigits) throw TooBig{};
      ex v = numeric(digits.c_str()) / numeric(den.c_str());
      return neg ? -v : v;
    }
    case Node::Kind::kSymbol: {
      auto it = syms->find(n.text);
      if (it == syms->end()) it = syms->emplace(n.text, symbol(n.text)).first;
      return it->second;
    }
    case Node::Kind::kConstant:
      if (n.text == "pi") return Pi;
      if (n.text == "e") return exp(ex(1));
      if (n.text == "i") return I;
      throw TooBig{};  // infinity has no exact form here
    case Node::Kind::kAdd: {
      ex s = 0;
      for (const Node& k : n.kids) s += ToEx(k, syms);
      return s;
    }
    case Node::Kind::kMul: {
      ex p = 1;
      for (const Node& k : n.kids) p *= ToEx(k, syms);
      return p;
    }
    case Node::Kind::kPow: {
      const ex b = ToEx(n.kids[0], syms), e = ToEx(n.kids[1], syms);
      if (is_a<numeric>(e)) {
        const numeric ne = ex_to<numeric>(e);
        if (ne.is_rational() && (abs(ne.numer()) > kMaxExactExponent || abs(ne.denom()) > kMaxExactExponent)) throw TooBig{};
        if (!ne.is_rational()) throw TooBig{};
      } else if (!e.info(info_flags::polynomial) || NodeCount(n.kids[1]) > 50) {
        throw TooBig{};
      }
      if (is_a<numeric>(b) && !is_a<numeric>(e)) throw TooBig{};  // 2^(2^x) stays numeric
      return pow(b, e);
    }
    case Node::Kind::kFunc: {
      std::vector<ex> a;
      for (const Node& k : n.kids) a.push_back(ToEx(k, syms));
      const std::string& f = n.text;
      if (a.size() == 1) {
        const ex& x = a[0];
        if (f == "sin") return sin(x);
        if (f == "cos") return cos(x);
        if (f == "tan") return tan(x);
        if (f == "sec") return 1 / cos(x);
        if (f == "csc") return 1 / sin(x);
        if (f == "cot") return cos(x) / sin(x);
        if (f == "arcsin") return asin(x);
        if (f == "arccos") return acos(x);
        if (f == "arctan") return atan(x);
        if (f == "sinh") return sinh(x);
        if (f == "cosh") return cosh(x);
        if (f == "tanh") return tanh(x);
        if (f == "log") return log(x);
        if (f == "exp") return exp(x);
        if (f == "sqrt") return sqrt(x);
        if (f == "abs") return abs(x);
        if (f == "factorial") {
          if (!is_a<numeric>(x) || !ex_to<numeric>(x).is_nonneg_integer() || ex_to<numeric>(x) > 1000) throw TooBig{};
          return factorial(x);
        }
      }
      if (a.size() == 2) {
        if (f == "root") {
          if (!is_a<numeric>(a[0]) || !ex_to<numeric>(a[0]).is_pos_integer() || ex_to<numeric>(a[0]) > 64) throw TooBig{};
          return pow(a[1], 1 / a[0]);
        }
        if (f == "binom") {
          if (!is_a<numeric>(a[0]) || !is_a<numeric>(a[1]) || ex_to<numeric>(a[0]) > 2000) throw TooBig{};
          return binomial(a[0], a[1]);
        }
        if (f == "logb") return log(a[1]) / log(a[0]);
      }
      throw TooBig{};
    }
  }
  throw TooBig{};
}

// Whether GiNaC proves a − b = 0 (nullopt: it could not decide in bounds).
std::optional<bool> GinacZeroDifference(const Node& a, const Node& b) {
  if (NodeCount(a) + NodeCount(b) > kMaxSymbolicNodes) return std::nullopt;
  std::lock_guard<std::mutex> lock(GinacMutex());
  try {
    std::map<std::string, GiNaC::symbol> syms;
    const GiNaC::ex d = ToEx(a, &syms) - ToEx(b, &syms);
    if (d.is_zero()) return true;
    const GiNaC::ex n = d.normal();
    if (n.is_zero()) return true;
    if (n.expand().is_zero()) return true;
    return false;
  } catch (const TooBig&) {
    return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// ---------------------------------------------------------------------------
// Expressions.

Verdict CompareNumbers(const Answer& ra, const Answer& ca, C rv, C cv) {
  // Percent: "28\%" may be meant as 28 or as 0.28.
  auto close_exact = [](C x, C y) {
    const long double scale = std::max<long double>({1.0L, std::abs(x), std::abs(y)});
    return std::abs(x - y) <= 1e-12L * scale;
  };
  auto rounding_match = [](C dec, C exact, int digits) {
    // dec is exact rounded to `digits` decimals (round-half either way).
    if (std::abs(dec.imag()) > 0 || std::abs(exact.imag()) > 1e-15L) return false;
    const long double tol = 0.5L * std::pow(10.0L, -digits) * (1 + 1e-9L) + 1e-15L * std::abs(exact.real());
    return std::abs(dec.real() - exact.real()) <= tol;
  };
  auto significant = [](C v, int digits) {
    // significant digits of a decimal with `digits` fractional digits
    const long double a = std::abs(v.real());
    if (a == 0) return digits;
    return static_cast<int>(std::floor(std::log10(a))) + 1 + digits;
  };
  std::vector<std::pair<C, C>> candidates = {{rv, cv}};
  if (ra.percent && !ca.percent) candidates.push_back({rv / 100.0L, cv});
  if (ca.percent && !ra.percent) candidates.push_back({rv, cv / 100.0L});
  for (auto [r, c] : candidates) {
    if (!Finite(r) || !Finite(c)) {
      if (r == c) return Yes("equal infinite values");
      continue;
    }
    if (ra.has_decimal != ca.has_decimal) {
      const Answer& dec = ra.has_decimal ? ra : ca;
      const C dv = ra.has_decimal ? r : c, ev = ra.has_decimal ? c : r;
      if (close_exact(dv, ev)) return Yes("equal values");
      if (significant(dv, dec.decimals) >= 2 && rounding_match(dv, ev, dec.decimals))
        return Yes("decimal is the exact value rounded to " + std::to_string(dec.decimals) + " places");
      continue;
    }
    if (close_exact(r, c)) return Yes("equal values");
  }
  return No("different values");
}

Verdict CompareExpr(const Answer& ra, const Answer& ca, const CheckOptions& opt, const Deadline& deadline) {
  if (ra.expr == ca.expr && ra.percent == ca.percent) return Yes("same expression");
  const bool rc = IsConstant(ra.expr), cc = IsConstant(ca.expr);
  if (rc && cc) {
    const Env env;
    const C rv = Evaluate(ra.expr, env), cv = Evaluate(ca.expr, env);
    const bool rn = std::isnan(rv.real()) || std::isnan(rv.imag()), cn = std::isnan(cv.real()) || std::isnan(cv.imag());
    if (!rn && !cn) {
      Verdict v = CompareNumbers(ra, ca, rv, cv);
      if (v.equivalent || ra.has_decimal || ca.has_decimal || ra.percent || ca.percent) return v;
      // Exact values that differ beyond long double precision: settled, unless
      // both overflowed (10^{400} vs 10^{400}+1) where only GiNaC can tell.
      if (Finite(rv) && Finite(cv) && std::abs(rv) < 1e300L && std::abs(cv) < 1e300L) return v;
    }
    if (deadline.Expired()) return {false, true, "deadline passed"};
    auto z = GinacZeroDifference(ra.expr, ca.expr);
    if (z.has_value()) return *z ? Yes("exact difference simplifies to 0") : No("exact difference is not 0");
    return No("values could not be compared");
  }
  // Variables: random points, then GiNaC.
  std::vector<std::string> syms = FreeSymbols(ra.expr);
  for (const std::string& s : FreeSymbols(ca.expr))
    if (!std::binary_search(syms.begin(), syms.end(), s)) syms.push_back(s);
  std::mt19937_64 rng(0x6c656d6d61ULL);
  std::uniform_real_distribution<double> u(0.3, 2.7);
  const bool decimal = ra.has_decimal || ca.has_decimal;
  const long double rel_tol = decimal ? 1e-6L : 1e-9L;
  int agree = 0, tried = 0;
  for (int p = 0; p < opt.spot_points * 3 && agree < opt.spot_points; ++p) {
    if (deadline.Expired()) return {false, true, "deadline passed"};
    Env env;
    // Positive, negative and complex points: negative ones separate sqrt(x²)
    // from x, complex ones |x| from sqrt(x·x̄)-style rewrites.
    const bool complex_point = p % 3 == 2;
    const double sign = p % 3 == 1 ? -1.0 : 1.0;
    for (const std::string& s : syms) env[s] = complex_point ? C(u(rng), u(rng) - 1.5) : C(sign * u(rng), 0);
    const C rv = Evaluate(ra.expr, env), cv = Evaluate(ca.expr, env);
    if (!Finite(rv) || !Finite(cv)) continue;
    ++tried;
    const long double scale = std::max<long double>({1.0L, std::abs(rv), std::abs(cv)});
    const bool same = std::abs(rv - cv) <= rel_tol * scale;
    if (!same) {
      // Branch cuts: a mismatch at a complex point, or at a negative point
      // where a side is not real (x^{2/3} against \\sqrt[3]{x}^2), does not decide.
      if (complex_point || (sign < 0 && (rv.imag() != 0 || cv.imag() != 0))) continue;
      return No("values differ at a random point");
    }
    ++agree;
  }
  if (deadline.Expired()) return {false, true, "deadline passed"};
  auto z = GinacZeroDifference(ra.expr, ca.expr);
  if (z.value_or(false)) return Yes("difference simplifies to 0");
  if (agree >= 3) return Yes("equal at " + std::to_string(agree) + " random points");
  return No(tried == 0 ? "expressions could not be evaluated" : "expressions disagree");
}

// ---------------------------------------------------------------------------
// Relations.

bool IsSimpleLhs(const Answer& a) {
  if (a.kind != Answer::Kind::kExpr) return false;
  const Node& n = a.expr;
  if (n.kind == Node::Kind::kSymbol) return true;
  // f(x) = ..., written as f·x by the parser.
  return n.kind == Node::Kind::kMul && n.kids.size() == 2 && n.kids[0].kind == Node::Kind::kSymbol &&
         NodeCount(n) <= 6;
}

// Cuts a chain at "≈" ("x = 1/3 ≈ 0.33" means 1/3) and reduces chains of
// equalities to their last member ("x = 5 + 1 = 6" → 6); an assignment
// "x = 5" or a computation "2 + 3 = 5" becomes 5 only when the other answer
// is not a relation itself.
Answer Reduce(const Answer& a, bool other_is_relation) {
  if (a.kind != Answer::Kind::kRelation) return a;
  Answer r = a;
  for (size_t i = 0; i < r.rels.size(); ++i) {
    if (r.rels[i] == Rel::kApprox) {
      if (i == 0) {
        r.rels[0] = Rel::kEq;
        continue;
      }
      r.rels.resize(i);
      r.items.resize(i + 1);
      break;
    }
  }
  const bool all_eq = std::all_of(r.rels.begin(), r.rels.end(), [](Rel x) { return x == Rel::kEq; });
  if (all_eq && r.items.size() >= 3) return r.items.back();
  // "x = 5", and a computation whose left side is a constant ("2 + 3 = 5"):
  // the right side is the answer.
  // Both sides must be constants: "7 = 11a + c" is an equation in a and c.
  const bool computation = r.items.size() == 2 && r.items[0].kind == Answer::Kind::kExpr &&
                           r.items[1].kind == Answer::Kind::kExpr && FreeSymbols(r.items[0].expr).empty() &&
                           FreeSymbols(r.items[1].expr).empty();
  if (all_eq && r.items.size() == 2 && (IsSimpleLhs(r.items[0]) || computation) && !other_is_relation)
    return r.items[1];
  return r;
}

Node Difference(const Answer& l, const Answer& r) {
  return MakeAdd({l.expr, Negate(r.expr)});
}

Verdict CompareRatio(const Node& d1, const Node& d2, bool positive_only, const Deadline& deadline) {
  // d1 / d2 must be a constant (positive for inequalities), checked at random points.
  std::vector<std::string> syms = FreeSymbols(d1);
  for (const std::string& s : FreeSymbols(d2))
    if (!std::binary_search(syms.begin(), syms.end(), s)) syms.push_back(s);
  std::mt19937_64 rng(0x72656cULL);
  std::uniform_real_distribution<double> u(0.3, 2.7);
  std::optional<C> ratio;
  int agree = 0;
  for (int p = 0; p < 24 && agree < 6; ++p) {
    if (deadline.Expired()) return {false, true, "deadline passed"};
    Env env;
    for (const std::string& s : syms) env[s] = C(u(rng), 0);
    const C a = Evaluate(d1, env), b = Evaluate(d2, env);
    if (!Finite(a) || !Finite(b) || std::abs(b) < 1e-12L) continue;
    const C q = a / b;
    if (!ratio) {
      ratio = q;
      if (std::abs(q) < 1e-12L) return No("relations differ");
      if (positive_only && !(q.real() > 0 && std::abs(q.imag()) < 1e-12L)) return No("inequalities point opposite ways");
    } else if (std::abs(q - *ratio) > 1e-9L * std::max<long double>(1.0L, std::abs(*ratio))) {
      return No("relations differ");
    }
    ++agree;
  }
  if (agree < 3) return No("relations could not be evaluated");
  return Yes("relations are multiples of each other");
}

// "a < x < b" as an interval, when the middle is a single variable.
std::optional<Answer> ChainToInterval(const Answer& a) {
  if (a.kind != Answer::Kind::kRelation || a.items.size() != 3) return std::nullopt;
  if (a.items[1].kind != Answer::Kind::kExpr || a.items[1].expr.kind != Node::Kind::kSymbol) return std::nullopt;
  const Rel r0 = a.rels[0], r1 = a.rels[1];
  auto lower = [](Rel r) { return r == Rel::kLt || r == Rel::kLe; };
  auto upper = [](Rel r) { return r == Rel::kGt || r == Rel::kGe; };
  Answer iv;
  iv.kind = Answer::Kind::kInterval;
  if (lower(r0) && lower(r1)) {
    iv.items = {a.items[0], a.items[2]};
    iv.lo_closed = r0 == Rel::kLe;
    iv.hi_closed = r1 == Rel::kLe;
    return iv;
  }
  if (upper(r0) && upper(r1)) {
    iv.items = {a.items[2], a.items[0]};
    iv.lo_closed = r1 == Rel::kGe;
    iv.hi_closed = r0 == Rel::kGe;
    return iv;
  }
  return std::nullopt;
}

// "x \geq 5" as [5, ∞).
std::optional<Answer> SingleToInterval(const Answer& a) {
  if (a.kind != Answer::Kind::kRelation || a.items.size() != 2) return std::nullopt;
  const bool var_left = a.items[0].kind == Answer::Kind::kExpr && a.items[0].expr.kind == Node::Kind::kSymbol;
  const bool var_right = a.items[1].kind == Answer::Kind::kExpr && a.items[1].expr.kind == Node::Kind::kSymbol;
  if (var_left == var_right) return std::nullopt;
  Rel r = a.rels[0];
  const Answer& bound = var_left ? a.items[1] : a.items[0];
  if (!var_left) {  // 5 \leq x  ≡  x \geq 5
    r = r == Rel::kLt ? Rel::kGt : r == Rel::kLe ? Rel::kGe : r == Rel::kGt ? Rel::kLt : r == Rel::kGe ? Rel::kLe : r;
  }
  Answer inf;
  inf.kind = Answer::Kind::kExpr;
  Answer iv;
  iv.kind = Answer::Kind::kInterval;
  if (r == Rel::kGt || r == Rel::kGe) {
    inf.expr = MakeConstant("inf");
    iv.items = {bound, inf};
    iv.lo_closed = r == Rel::kGe;
    return iv;
  }
  if (r == Rel::kLt || r == Rel::kLe) {
    inf.expr = Negate(MakeConstant("inf"));
    iv.items = {inf, bound};
    iv.hi_closed = r == Rel::kLe;
    return iv;
  }
  return std::nullopt;
}

Verdict Compare(const Answer& r0, const Answer& c0, const CheckOptions& opt, const Deadline& d, int depth);

Verdict CompareRelations(const Answer& r, const Answer& c, const CheckOptions& opt, const Deadline& d, int depth) {
  if (r.items.size() == 2 && c.items.size() == 2) {
    const Rel a = r.rels[0], b = c.rels[0];
    auto strict = [](Rel x) { return x == Rel::kLt || x == Rel::kGt; };
    auto is_ineq = [](Rel x) { return x == Rel::kLt || x == Rel::kGt || x == Rel::kLe || x == Rel::kGe; };
    const bool all_expr = r.items[0].kind == Answer::Kind::kExpr && r.items[1].kind == Answer::Kind::kExpr &&
                          c.items[0].kind == Answer::Kind::kExpr && c.items[1].kind == Answer::Kind::kExpr;
    if (all_expr) {
      if ((a == Rel::kEq && b == Rel::kEq) || (a == Rel::kNe && b == Rel::kNe)) {
        return CompareRatio(Difference(r.items[0], r.items[1]), Difference(c.items[0], c.items[1]), false, d);
      }
      if (is_ineq(a) && is_ineq(b)) {
        if (strict(a) != strict(b)) return No("one inequality is strict, the other not");
        // Orient both as (something) < 0.
        auto oriented = [](const Answer& x, Rel rel) {
          return (rel == Rel::kLt || rel == Rel::kLe) ? Difference(x.items[0], x.items[1])
                                                      : Difference(x.items[1], x.items[0]);
        };
        return CompareRatio(oriented(r, a), oriented(c, b), true, d);
      }
    }
  }
  if (r.rels != c.rels || r.items.size() != c.items.size()) return No("different relations");
  for (size_t i = 0; i < r.items.size(); ++i) {
    Verdict v = Compare(r.items[i], c.items[i], opt, d, depth + 1);
    if (!v.equivalent) return v;
  }
  return Yes("same relation chain");
}

// Unordered matching of items (sets, solution lists, unions).
Verdict CompareUnordered(const std::vector<Answer>& a, const std::vector<Answer>& b, const CheckOptions& opt,
                         const Deadline& d, int depth) {
  if (a.size() != b.size()) return No("different number of elements");
  std::vector<bool> used(b.size(), false);
  for (const Answer& x : a) {
    bool found = false;
    for (size_t j = 0; j < b.size() && !found; ++j) {
      if (used[j]) continue;
      Verdict v = Compare(x, b[j], opt, d, depth + 1);
      if (v.timed_out) return v;
      if (v.equivalent) used[j] = found = true;
    }
    if (!found) return No("an element has no equal");
  }
  return Yes("same elements");
}

Verdict CompareOrdered(const std::vector<Answer>& a, const std::vector<Answer>& b, const CheckOptions& opt,
                       const Deadline& d, int depth) {
  if (a.size() != b.size()) return No("different number of elements");
  for (size_t i = 0; i < a.size(); ++i) {
    Verdict v = Compare(a[i], b[i], opt, d, depth + 1);
    if (!v.equivalent) return v.timed_out ? v : No("element " + std::to_string(i + 1) + " differs: " + v.reason);
  }
  return Yes("same elements in order");
}

bool IsCollection(Answer::Kind k) {
  return k == Answer::Kind::kList || k == Answer::Kind::kSet || k == Answer::Kind::kTuple;
}

Verdict Compare(const Answer& r0, const Answer& c0, const CheckOptions& opt, const Deadline& d, int depth) {
  if (depth > 64) return No("nested too deeply");
  if (d.Expired()) return {false, true, "deadline passed"};
  using K = Answer::Kind;
  Answer r = Reduce(r0, true), c = Reduce(c0, true);
  r = ExpandPm(Reduce(r, c.kind == K::kRelation));
  c = ExpandPm(Reduce(c, r.kind == K::kRelation));
  for (Answer* x : {&r, &c}) {
    if (x->kind != K::kList && x->kind != K::kSet) continue;
    std::vector<Answer> flat;  // "\{1 \pm \sqrt5, -2\}" holds three elements
    for (const Answer& item : x->items) {
      Answer e = ExpandPm(item);
      if (e.kind == K::kList && item.kind == K::kExpr) {
        for (Answer& v : e.items) flat.push_back(std::move(v));
      } else {
        flat.push_back(std::move(e));
      }
    }
    x->items = std::move(flat);
  }
  if (r.kind == K::kEmpty || c.kind == K::kEmpty) return No("empty answer");
  // Set-builder style relations against intervals. A reference relation is
  // always read as the set it describes; a candidate relation only when
  // allowed (Math-Verify's allow_set_relation_comp is asymmetric the same way).
  if (r.kind == K::kRelation && c.kind != K::kRelation) {
    if (auto iv = ChainToInterval(r)) r = *iv;
    else if (auto iv1 = SingleToInterval(r); iv1 && (c.kind == K::kInterval)) r = *iv1;
  }
  if (opt.allow_set_relation) {
    if (c.kind == K::kRelation && r.kind != K::kRelation) {
      if (auto iv = ChainToInterval(c)) c = *iv;
      else if (auto iv1 = SingleToInterval(c); iv1 && (r.kind == K::kInterval)) c = *iv1;
    }
  }
  // Singletons: "{5}" or "5," against 5.
  if (IsCollection(r.kind) && r.items.size() == 1 && !IsCollection(c.kind)) return Compare(r.items[0], c, opt, d, depth + 1);
  if (IsCollection(c.kind) && c.items.size() == 1 && !IsCollection(r.kind)) return Compare(r, c.items[0], opt, d, depth + 1);
  if (r.kind == K::kText || c.kind == K::kText) {
    if (r.kind == K::kText && c.kind == K::kText) return r.text == c.text ? Yes("same text") : No("different text");
    return AnswerKey(r) == AnswerKey(c) ? Yes("same text") : No("text against mathematics");
  }
  if (r.kind == K::kExpr && c.kind == K::kExpr) return CompareExpr(r, c, opt, d);
  if (r.kind == K::kRelation && c.kind == K::kRelation) return CompareRelations(r, c, opt, d, depth);
  if (r.kind == K::kInterval && c.kind == K::kInterval) {
    if (r.lo_closed != c.lo_closed || r.hi_closed != c.hi_closed) return No("interval ends differ (open/closed)");
    return CompareOrdered(r.items, c.items, opt, d, depth);
  }
  // An open interval and a pair are both written (a, b).
  if ((r.kind == K::kInterval && c.kind == K::kTuple) || (r.kind == K::kTuple && c.kind == K::kInterval)) {
    const Answer& iv = r.kind == K::kInterval ? r : c;
    if (iv.lo_closed || iv.hi_closed) return No("interval against a tuple");
    return CompareOrdered(r.items, c.items, opt, d, depth);
  }
  if (r.kind == K::kUnion || c.kind == K::kUnion) {
    auto parts = [](const Answer& a) { return a.kind == K::kUnion ? a.items : std::vector<Answer>{a}; };
    return CompareUnordered(parts(r), parts(c), opt, d, depth);
  }
  if (r.kind == K::kMatrix && c.kind == K::kMatrix) {
    if (r.items.size() != c.items.size()) return No("matrices differ in shape");
    for (size_t i = 0; i < r.items.size(); ++i) {
      Verdict v = CompareOrdered(r.items[i].items, c.items[i].items, opt, d, depth);
      if (!v.equivalent) return v.timed_out ? v : No("matrix row " + std::to_string(i + 1) + " differs");
    }
    return Yes("same matrix");
  }
  // A column vector written as a matrix against a tuple.
  if ((r.kind == K::kMatrix && c.kind == K::kTuple) || (r.kind == K::kTuple && c.kind == K::kMatrix)) {
    const Answer& m = r.kind == K::kMatrix ? r : c;
    std::vector<Answer> flat;
    for (const Answer& row : m.items)
      for (const Answer& x : row.items) flat.push_back(x);
    if (m.items.size() != 1 && !std::all_of(m.items.begin(), m.items.end(), [](const Answer& row) { return row.items.size() == 1; }))
      return No("matrix against a tuple");
    return r.kind == K::kMatrix ? CompareOrdered(flat, c.items, opt, d, depth) : CompareOrdered(r.items, flat, opt, d, depth);
  }
  if (IsCollection(r.kind) && IsCollection(c.kind)) {
    // Tuples are ordered; a bare list against a tuple keeps the order too;
    // sets and bare lists of solutions are compared as sets.
    if (r.kind == K::kTuple || c.kind == K::kTuple) return CompareOrdered(r.items, c.items, opt, d, depth);
    return CompareUnordered(r.items, c.items, opt, d, depth);
  }
  return No("different kinds of answer");
}

}  // namespace

Verdict CompareAnswers(const Answer& reference, const Answer& candidate, const CheckOptions& options,
                       const Deadline& deadline) {
  try {
    return Compare(reference, candidate, options, deadline, 0);
  } catch (const std::exception& e) {
    return No(std::string("checker error: ") + e.what());
  }
}

Verdict CheckEquivalent(std::string_view reference, std::string_view candidate, const CheckOptions& options) {
  const Deadline deadline(options.deadline_seconds);
  try {
    const std::string rc = CanonicalizeLatex(reference), cc = CanonicalizeLatex(candidate);
    if (!rc.empty() && rc == cc) return Yes("same canonical text");
    return CompareAnswers(ParseAnswer(reference), ParseAnswer(candidate), options, deadline);
  } catch (const std::exception& e) {
    return No(std::string("checker error: ") + e.what());
  }
}

}  // namespace llemma::math
