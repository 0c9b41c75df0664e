// LaTeX answer parser: turns the text of a final answer ("\frac{3}{4}",
// "(1, \sqrt{2})", "[0, 1) \cup (2, \infty)", "x \geq 5", "28\%",
// "\begin{pmatrix}1 & 2\end{pmatrix}") into a structured Answer whose
// expressions are small trees (Node) that equiv.h compares exactly (GiNaC)
// and numerically.
//
//   llemma::math::Answer a = llemma::math::ParseAnswer("\\dfrac{1}{2}\\text{ cm}");
//   // a.kind == Answer::Kind::kExpr, a.expr is 1 * 2^-1, a.units == "cm"
//
// Parsing never throws and never recurses deeper than kMaxDepth; input that is
// not mathematics comes back as Kind::kText with the normalized text, so that
// plain-word answers ("Evelyn", "\text{(C)}") still compare. Thread-safe: pure
// functions of their input.
#pragma once

#include <complex>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace llemma::math {

// An expression tree. Subtraction is a + (-1)·b and division a · b^(-1), so
// evaluators only need sums, products and powers.
struct Node {
  enum class Kind {
    kNumber,     // text: decimal literal without sign ("12", "0.25")
    kSymbol,     // text: name ("x", "alpha", "x_1")
    kConstant,   // text: "pi", "e", "i", "inf"
    kAdd,        // kids: terms
    kMul,        // kids: factors
    kPow,        // kids: base, exponent
    kFunc,       // text: function name ("sin", "log", "sqrt", "abs", "binom", "factorial", "root"), kids: args
  };
  Kind kind = Kind::kNumber;
  std::string text;
  std::vector<Node> kids;

  bool operator==(const Node&) const = default;
};

Node MakeNumber(std::string digits);
Node MakeInteger(long long v);
Node MakeSymbol(std::string name);
Node MakeConstant(std::string name);
Node MakeAdd(std::vector<Node> terms);
Node MakeMul(std::vector<Node> factors);
Node MakePow(Node base, Node exponent);
Node MakeFunc(std::string name, std::vector<Node> args);
Node Negate(Node x);
Node Reciprocal(Node x);

// Relations in a chain "a < b <= c".
enum class Rel { kEq, kNe, kLt, kLe, kGt, kGe, kApprox };

// A parsed answer.
struct Answer {
  enum class Kind {
    kEmpty,     // nothing left after normalization
    kExpr,      // expr
    kTuple,     // "(a, b)": ordered items
    kList,      // "a, b" without brackets (solution lists): items
    kSet,       // "\{a, b\}": items, order-insensitive
    kInterval,  // items[0], items[1] with lo_closed / hi_closed
    kUnion,     // items: intervals and sets joined by \cup
    kRelation,  // items: operands, rels: the relations between them
    kMatrix,    // items: rows, each a kTuple
    kText,      // text: normalized words
  };
  Kind kind = Kind::kEmpty;
  Node expr;
  std::vector<Answer> items;
  std::vector<Rel> rels;
  bool lo_closed = false, hi_closed = false;
  bool percent = false;     // written with \%, "percent", "pct"
  bool has_decimal = false; // the expression contains a decimal literal
  int decimals = 0;         // most fractional digits of any decimal literal in expr
  std::string text;
  std::string units;        // unit words that were stripped ("cm", "miles")
};

// Normalizes the text of an answer before parsing: strips $ and \( \) \[ \]
// delimiters, \left/\right, spacing commands, \displaystyle, \boxed{} around
// the whole answer, \dfrac/\tfrac/\cfrac → \frac, degrees, thousands
// separators ("1{,}000", "1,\!000", "7,425,000"), maps common Unicode math
// characters to LaTeX. Exposed for tests and for canonical voting keys.
std::string CanonicalizeLatex(std::string_view s);

// Parses an answer; never fails (unparseable input becomes kText).
Answer ParseAnswer(std::string_view s);

// A canonical text key for an answer: equal keys imply equivalent answers
// (used to group votes in O(k) before any pairwise comparison).
std::string AnswerKey(const Answer& a);

// The symbols an expression mentions, sorted.
std::vector<std::string> FreeSymbols(const Node& n);

// Evaluates an expression with complex long double arithmetic, with the
// symbols bound by `env`. Unknown symbols or functions give NaN.
std::complex<long double> Evaluate(const Node& n, const std::map<std::string, std::complex<long double>>& env);

// Whether the tree holds only numbers and constants.
bool IsConstant(const Node& n);

// Number of nodes, for complexity limits.
size_t NodeCount(const Node& n);

// Readable form of a tree, for "why" messages.
std::string ToString(const Node& n);

constexpr int kMaxDepth = 200;        // deeper nesting is text
constexpr size_t kMaxAnswerBytes = 20000;  // longer answers are compared as text

}  // namespace llemma::math
