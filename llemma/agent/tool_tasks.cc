#include "llemma/agent/tool_tasks.h"

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "llemma/math/latex.h"
#include "llemma/math/minerva.h"

namespace llemma::agent {

namespace {

bool IsPySpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

constexpr std::string_view kAnswerMarker = "__LLEMMA_ANSWER__ ";

// numpy.isclose(a, b) with its defaults (rtol 1e-5, atol 1e-8; not symmetric).
bool NpIsClose(double a, double b) {
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::fabs(a - b) <= 1e-8 + 1e-5 * std::fabs(b);
}

}  // namespace

std::string_view PyStrip(std::string_view s) {
  while (!s.empty() && IsPySpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsPySpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string Gsm8kPythonPrompt(std::string_view pal_template, std::string_view question) {
  std::string out;
  constexpr std::string_view kField = "{question}";
  for (size_t i = 0; i < pal_template.size();) {
    if (pal_template.substr(i, kField.size()) == kField) {
      out += question;
      i += kField.size();
    } else if (pal_template.substr(i, 2) == "{{" || pal_template.substr(i, 2) == "}}") {
      out += pal_template[i];
      i += 2;
    } else {
      out += pal_template[i++];
    }
  }
  return out;
}

std::string Gsm8kPythonProgram(std::string_view completion) {
  return std::string(PyStrip(completion)) + "\nprint(solution())";
}

std::optional<double> PythonFloat(std::string_view s) {
  std::string t(PyStrip(s));
  if (t.empty()) return std::nullopt;
  // Python allows single underscores between digits; strtod would take hex.
  std::string clean;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '_') {
      if (i == 0 || i + 1 == t.size() || !std::isdigit(static_cast<unsigned char>(t[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(t[i + 1])))
        return std::nullopt;
      continue;
    }
    clean += t[i];
  }
  if (clean.find_first_of("xXpP") != std::string::npos) return std::nullopt;
  const char* b = clean.c_str();
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(b, &end);
  if (end != b + clean.size()) return std::nullopt;
  return v;
}

std::optional<std::string_view> PalPrintedAnswer(math::Mode mode, const sandbox::RunResult& run) {
  if (!run.ok()) return std::nullopt;
  std::string_view out = PyStrip(run.stdout_text);
  if (mode == math::Mode::kCompatLlemma) {
    if (!PythonFloat(out)) return std::nullopt;
    return out;
  }
  const size_t nl = out.rfind('\n');
  if (nl != std::string_view::npos) out = PyStrip(out.substr(nl + 1));
  if (out.empty() || out == "None") return std::nullopt;
  return out;
}

bool ScoreGsm8kPython(math::Mode mode, std::string_view reference, const sandbox::RunResult& run) {
  const std::optional<std::string_view> out = PalPrintedAnswer(mode, run);
  if (!out) return false;
  if (mode == math::Mode::kCompatLlemma) {
    const std::optional<double> ref = PythonFloat(reference);
    return ref && *ref == *PythonFloat(*out);
  }
  const std::string ref =
      math::ReferenceAnswer(math::Task::kGsm8k, math::Mode::kDefault, reference);
  math::CheckOptions o;
  return math::Judge(math::Task::kGsm8k, math::Mode::kDefault, ref, *out, o).equivalent;
}

std::string MathPythonPrompt(std::string_view prompt, std::string_view problem) {
  return std::string(prompt) + "\n\nProblem:\n" + std::string(problem) +
         "\n\nYou are an expert programmer. Solve the above mathematical problem by writing a "
         "Python program. "
         "Express your answer as a numeric type or a SymPy object.\n```";
}

MathProgram ExtractMathProgram(std::string_view text) {
  MathProgram p;
  std::string body = "failed to get program", header = "failed to get header";
  const size_t fence = text.find("```");
  if (fence != std::string_view::npos) {
    body = std::string(PyStrip(text.substr(0, fence)));
    p.has_body = true;
  }
  // re.search(r"The imports required for this program are\s```(.*?)```", DOTALL)
  constexpr std::string_view kLead = "The imports required for this program are";
  for (size_t at = text.find(kLead); at != std::string_view::npos; at = text.find(kLead, at + 1)) {
    const size_t ws = at + kLead.size();
    if (ws >= text.size() || !IsPySpace(text[ws]) || text.substr(ws + 1, 3) != "```") continue;
    const size_t start = ws + 4, close = text.find("```", start);
    if (close == std::string_view::npos) continue;
    header = std::string(PyStrip(text.substr(start, close - start)));
    p.has_header = true;
    break;
  }
  p.code = header + "\n\n" + body;
  return p;
}

std::string MathPythonWrapper(std::string_view code, math::Mode mode,
                              std::string_view reference_latex, std::string_view reference_expr) {
  const bool compat = mode == math::Mode::kCompatLlemma;
  std::string run_code(code);
  if (compat) {
    // The harness: "try:\n" + code indented by one space + "\nexcept:\n  pass".
    std::string indented = " ";
    for (char c : code) {
      indented += c;
      if (c == '\n') indented += ' ';
    }
    run_code = "try:\n" + indented + "\nexcept:\n  pass";
  }
  const nlohmann::json strings = {run_code, std::string(reference_latex),
                                  std::string(reference_expr)};
  std::string w =
      "import json as _lj, math as _lm, signal as _ls\n_lcode, _lref_tex, _lref_expr = _lj.loads(" +
      nlohmann::json(strings.dump()).dump() + ")\nCOMPAT = " + (compat ? "True" : "False") + "\n";
  w += R"PY(
class _LTimeout(BaseException):
    pass

def _lalarm(*_):
    raise _LTimeout("5 s limit")

_ls.signal(_ls.SIGALRM, _lalarm)

def _lcast(x):
    try:
        v = int(x)
        if v == x:
            return v
    except BaseException:
        pass
    try:
        v = float(x)
        if _lm.isfinite(v):
            return v
    except BaseException:
        pass
    return x

def _lnumber(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)

def _lisclose(a, b):
    import numpy
    return bool(numpy.isclose(a, b) or numpy.isclose(b, a))

def _lequiv(a, b):
    import sympy
    if _lnumber(a) and _lnumber(b):
        return _lisclose(a, b)
    if isinstance(a, sympy.Basic) and isinstance(b, sympy.Basic):
        _ls.alarm(5)
        try:
            return bool(sympy.simplify(a - b) == 0)
        except BaseException:
            return False
        finally:
            _ls.alarm(0)
    return False

def _lreference():
    try:
        from sympy.parsing.latex import parse_latex
        _ls.alarm(5)
        try:
            return parse_latex(_lref_tex)
        finally:
            _ls.alarm(0)
    except ImportError:
        pass  # no antlr4 runtime: read our own parse of the reference
    except BaseException:
        return None
    try:
        from sympy.parsing.sympy_parser import parse_expr, standard_transformations, convert_xor
        return parse_expr(_lref_expr, transformations=standard_transformations + (convert_xor,))
    except BaseException:
        return None

def _llatex(x):
    import sympy
    if isinstance(x, bool):
        return str(x)
    if _lnumber(x):
        return repr(x)
    if isinstance(x, sympy.Basic):
        return sympy.latex(x)
    if isinstance(x, (list, tuple, set)):
        items = list(x)
        if not COMPAT and len(items) == 1:
            return _llatex(items[0])
        return ", ".join(_llatex(i) for i in items)
    return str(x)

_lns = {"__name__": "__main__"}
_lerror = ""
_ls.alarm(5)
try:
    exec(compile(_lcode, "program.py", "exec"), _lns)
except BaseException as e:
    _lerror = type(e).__name__ + ": " + str(e)
finally:
    _ls.alarm(0)
answer = _lns.get("answer")
_lout = {"error": _lerror[:500]}
try:
    import sympy
    _lc = _lcast(answer) if COMPAT else answer
    if answer is None:
        _lout["kind"] = "none"
    elif _lnumber(_lc):
        _lout["kind"] = "number"
        _lout["number"] = float(_lc)
    elif isinstance(_lc, sympy.Basic):
        _lout["kind"] = "sympy"
    elif isinstance(_lc, (list, tuple, set)):
        _lout["kind"] = "list"
    else:
        _lout["kind"] = "other"
    _lout["text"] = str(_lc)[:4000]
    _lout["latex"] = _llatex(_lc)[:4000]
    if COMPAT:
        _lout["correct"] = _lequiv(_lc, _lcast(_lreference()))
except BaseException as e:
    _lout.setdefault("kind", "other")
    _lout["error"] = (_lerror or type(e).__name__ + ": " + str(e))[:500]
print("\n__LLEMMA_ANSWER__ " + _lj.dumps(_lout), flush=True)
)PY";
  return w;
}

StatusOr<MathPythonAnswer> RunMathProgram(sandbox::Sandbox& sb, std::string_view code,
                                          std::string_view reference_field, math::Mode mode) {
  // The harness normalizes the (already normalized) reference once more.
  const std::string ref = math::ReferenceAnswer(math::Task::kMath, mode, reference_field);
  std::string ref_tex = ref, ref_expr;
  if (mode == math::Mode::kCompatLlemma) {
    ref_tex = math::MinervaNormalizeTex(ref);
    const math::Answer parsed = math::ParseAnswer(ref_tex);
    if (parsed.kind == math::Answer::Kind::kExpr) ref_expr = math::ToString(parsed.expr);
  }
  sandbox::Limits limits = sb.options().limits;
  limits.wall_seconds =
      std::max(limits.wall_seconds, 16.0);  // program, cast and simplify: 5 s each
  limits.cpu_seconds = limits.cpu_seconds > 0 ? std::max<int64_t>(limits.cpu_seconds, 16) : 0;
  LLEMMA_ASSIGN_OR_RETURN(sandbox::RunResult run,
                          sb.Run(MathPythonWrapper(code, mode, ref_tex, ref_expr), limits));
  MathPythonAnswer a;
  a.kind = "none";
  a.text = "None";
  const size_t at = run.stdout_text.rfind(kAnswerMarker);
  if (at == std::string::npos) {
    a.error = std::string("the program's run ended with ") + sandbox::OutcomeName(run.outcome);
    a.vote_key = mode == math::Mode::kCompatLlemma ? "None" : "";
    return a;
  }
  std::string line = run.stdout_text.substr(at + kAnswerMarker.size());
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) {
    a.error = "unreadable answer line";
    return a;
  }
  a.kind = j.value("kind", std::string("other"));
  a.text = j.value("text", std::string("None"));
  a.latex = j.value("latex", std::string());
  a.error = j.value("error", std::string());
  if (j.contains("number") && j["number"].is_number()) a.number = j["number"].get<double>();
  if (mode == math::Mode::kCompatLlemma) {
    a.correct = j.value("correct", false);
    a.vote_key = a.text;
  } else {
    a.vote_key = a.kind == "none" ? "" : a.latex;
    if (!a.vote_key.empty()) {
      math::CheckOptions o;
      a.correct =
          math::Judge(math::Task::kMath, math::Mode::kDefault, ref, a.vote_key, o).equivalent;
    }
  }
  return a;
}

math::VoteResult VoteMathPython(const std::vector<MathPythonAnswer>& answers,
                                std::string_view reference_field, math::Mode mode) {
  if (mode == math::Mode::kDefault) {
    const std::string ref = math::ReferenceAnswer(math::Task::kMath, mode, reference_field);
    std::vector<std::optional<std::string>> keys;
    for (const auto& a : answers) {
      if (a.vote_key.empty()) {
        keys.push_back(std::nullopt);
      } else {
        keys.push_back(a.vote_key);
      }
    }
    math::VoteRules rules;
    rules.equiv = [](const std::string& x, const std::string& y) {
      math::CheckOptions o;
      return math::Judge(math::Task::kMath, math::Mode::kDefault, x, y, o).equivalent;
    };
    return math::MajorityVote(keys, ref, rules);
  }
  // Compat: every sample votes (a failed program's None too); a sample joins
  // the first bucket with the same str() or, for two numbers, np.isclose.
  struct Bucket {
    size_t first;
    int votes;
  };
  std::vector<Bucket> buckets;
  for (size_t i = 0; i < answers.size(); ++i) {
    const auto& a = answers[i];
    bool placed = false;
    for (auto& b : buckets) {
      const auto& r = answers[b.first];
      const bool same = r.vote_key == a.vote_key ||
                        (r.number && a.number &&
                         (NpIsClose(*r.number, *a.number) || NpIsClose(*a.number, *r.number)));
      if (same) {
        ++b.votes;
        placed = true;
        break;
      }
    }
    if (!placed) buckets.push_back({i, 1});
  }
  std::stable_sort(buckets.begin(), buckets.end(),
                   [](const Bucket& x, const Bucket& y) { return x.votes > y.votes; });
  math::VoteResult v;
  v.valid = static_cast<int>(answers.size());
  for (const auto& b : buckets) v.buckets.push_back({answers[b.first].vote_key, b.votes});
  if (!buckets.empty()) {
    v.elected = answers[buckets[0].first].vote_key;
    v.acc = answers[buckets[0].first].correct;
    for (const auto& b : buckets) {
      if (answers[b.first].correct) {
        v.pass_rate = static_cast<double>(b.votes) / static_cast<double>(answers.size());
        break;
      }
    }
  }
  return v;
}

}  // namespace llemma::agent
