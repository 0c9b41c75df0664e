#include "llemma/eval/report.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "llemma/eval/runner.h"
#include "llemma/eval/task.h"

namespace llemma::eval {

namespace {

using json = nlohmann::json;

double Pct(double fraction) { return 100.0 * fraction; }

// Sums that become a GroupMetrics.
struct Acc {
  int64_t problems = 0, complete = 0, samples = 0, invalid = 0, tokens = 0;
  int64_t maj1_n = 0, maj1_ok = 0;
  double majk_ok = 0, pass = 0;
  double logprob = 0;
  int64_t scored_tokens = 0, bytes = 0;
  GroupMetrics Finish(const std::string& subject) const {
    GroupMetrics g;
    g.subject = subject;
    g.n_problems = problems;
    g.n_complete = complete;
    g.n_samples = samples;
    g.maj1 = maj1_n ? double(maj1_ok) / maj1_n : 0;
    g.majk = problems ? majk_ok / problems : 0;
    g.pass_rate = problems ? pass / problems : 0;
    g.invalid_rate = samples ? double(invalid) / samples : 0;
    g.n_tokens = tokens;
    g.logprob = logprob;
    g.n_scored_tokens = scored_tokens;
    g.n_bytes = bytes;
    return g;
  }
};

StatusOr<TaskReport> BuildTask(Store& store, const RunSettings& settings, const ReportOptions& o) {
  TaskReport tr;
  tr.settings = settings;
  const std::string data_dir = o.data_dir.empty() ? DefaultDataDir() : o.data_dir;
  LLEMMA_ASSIGN_OR_RETURN(std::unique_ptr<Task> task,
                          MakeTask(settings.task, data_dir, settings.fields));
  const TaskSpec& spec = task->spec();
  tr.perplexity = spec.perplexity;
  if (!spec.paper_key.empty() && spec.paper_key == settings.task) {
    tr.paper = PaperNumbers(spec.paper_key);
  }
  math::Mode mode = math::Mode::kDefault;
  if (o.mode) {
    mode = *o.mode;
  } else if (auto m = math::ParseMode(settings.checker)) {
    mode = *m;
  }
  tr.checker = ModeName(mode);

  LLEMMA_ASSIGN_OR_RETURN(std::vector<StoredProblem> problems, store.Problems(settings.task));
  std::map<std::string, Acc> by_subject;  // "" holds the total
  Acc total;
  bool any_subject = false;
  for (const StoredProblem& p : problems) any_subject = any_subject || !p.subject.empty();

  if (spec.perplexity) {
    LLEMMA_ASSIGN_OR_RETURN(std::vector<StoredScore> scores, store.Scores(settings.task));
    std::map<std::string, const StoredProblem*> prob;
    for (const StoredProblem& p : problems) prob[p.problem_id] = &p;
    for (const StoredScore& s : scores) {
      auto it = prob.find(s.problem_id);
      const std::string subject = it == prob.end() ? "" : it->second->subject;
      for (Acc* a : {&total, &by_subject[subject]}) {
        a->problems++;
        a->complete++;
        a->logprob += s.ll.logprob;
        a->scored_tokens += s.ll.n_tokens;
        a->bytes += s.n_bytes;
      }
    }
  } else {
    LLEMMA_ASSIGN_OR_RETURN(std::vector<StoredSample> samples, store.Samples(settings.task));
    LLEMMA_ASSIGN_OR_RETURN(auto verdicts, store.Verdicts(settings.task, tr.checker));
    std::map<std::string, std::vector<const StoredSample*>> per_problem;
    for (const StoredSample& s : samples) per_problem[s.problem_id].push_back(&s);
    std::vector<ProblemVerdict> fresh;
    for (const StoredProblem& sp : problems) {
      auto it = per_problem.find(sp.problem_id);
      if (it == per_problem.end()) continue;
      const std::vector<const StoredSample*>& rows = it->second;  // by sample index
      auto v = verdicts.find(sp.problem_id);
      bool stale = v == verdicts.end() || v->second.n_samples != static_cast<int>(rows.size()) ||
                   v->second.samples.size() != rows.size();
      if (!stale) {
        for (size_t i = 0; i < rows.size(); ++i) {
          stale = stale || v->second.samples[i].index != rows[i]->sample.index;
        }
      }
      ProblemVerdict pv;
      if (stale) {
        if (fresh.empty()) {
          // A task that cannot score here (no sandbox) fails rather than store wrong verdicts.
          LLEMMA_RETURN_IF_ERROR(task->Prepare());
        }
        Problem p;
        p.id = sp.problem_id;
        p.subject = sp.subject;
        p.reference = sp.reference;
        std::vector<std::string> completions;
        for (const StoredSample* s : rows) completions.push_back(s->sample.text);
        pv = ScoreProblem(*task, p, mode, completions, o.check);
        // ScoreProblem numbers samples 0..n-1 in order; keep the stored indices.
        for (size_t i = 0; i < rows.size(); ++i) pv.samples[i].index = rows[i]->sample.index;
        fresh.push_back(pv);
      } else {
        pv = v->second;
      }
      for (Acc* a : {&total, &by_subject[sp.subject]}) {
        a->problems++;
        a->complete += static_cast<int64_t>(rows.size()) >= settings.k;
        a->samples += static_cast<int64_t>(rows.size());
        for (const StoredSample* s : rows) a->tokens += s->sample.n_tokens;
        for (const SampleVerdict& sv : pv.samples) a->invalid += !sv.answer.has_value();
        if (!pv.samples.empty() && pv.samples[0].index == 0) {
          a->maj1_n++;
          a->maj1_ok += pv.samples[0].correct;
        }
        a->majk_ok += pv.acc;
        a->pass += pv.pass_rate;
      }
    }
    if (!fresh.empty()) {
      // Verdicts per stored index, for the next report.
      LLEMMA_RETURN_IF_ERROR(store.PutVerdicts(settings.task, tr.checker, fresh));
    }
  }
  tr.total = total.Finish("");
  if (any_subject) {
    for (const auto& [subject, a] : by_subject) tr.subjects.push_back(a.Finish(subject));
  }
  tr.tokens_per_second =
      settings.wall_seconds > 0 ? tr.total.n_tokens / settings.wall_seconds : 0.0;
  return tr;
}

std::string Num(double v, int digits = 1) {
  if (!std::isfinite(v)) return "—";
  return fmt::format("{:.{}f}", v, digits);
}

std::string PaperCell(const TaskReport& t, const PaperNumber& model) {
  for (const PaperNumber& n : t.paper) {
    if (n.key != model.key) continue;
    if (n.maj1 && n.majk) return Num(*n.maj1) + " / " + Num(*n.majk);
    if (n.maj1) return Num(*n.maj1);
    if (n.majk) return "— / " + Num(*n.majk);
  }
  return "";
}

std::string MdEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

json GroupJson(const TaskReport& t, const GroupMetrics& g) {
  json j;
  if (!g.subject.empty()) j["subject"] = g.subject;
  j["n_problems"] = g.n_problems;
  j["n_complete"] = g.n_complete;
  j["n_samples"] = g.n_samples;
  if (t.perplexity) {
    j["n_tokens"] = g.n_scored_tokens;
    j["n_bytes"] = g.n_bytes;
    j["perplexity"] = g.Perplexity();
    j["token_perplexity"] = g.TokenPerplexity();
    j["bits_per_byte"] = g.BitsPerByte();
  } else {
    j["accuracy"] = Pct(t.settings.k > 1 ? g.majk : g.maj1);
    j["maj1"] = Pct(g.maj1);
    j["majk"] = Pct(g.majk);
    j["pass_rate"] = Pct(g.pass_rate);
    j["invalid_rate"] = Pct(g.invalid_rate);
    j["n_tokens"] = g.n_tokens;
  }
  return j;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

double GroupMetrics::Perplexity() const { return n_bytes > 0 ? std::exp(-logprob / n_bytes) : NAN; }
double GroupMetrics::TokenPerplexity() const {
  return n_scored_tokens > 0 ? std::exp(-logprob / n_scored_tokens) : NAN;
}
double GroupMetrics::BitsPerByte() const {
  return n_bytes > 0 ? -logprob / n_bytes / std::log(2.0) : NAN;
}

StatusOr<Report> BuildReport(Store& store, const ReportOptions& options) {
  Report r;
  r.db = store.path();
  LLEMMA_ASSIGN_OR_RETURN(std::vector<RunSettings> tasks, store.Tasks());
  if (tasks.empty()) return NotFoundError(store.path() + " holds no evaluation results yet");
  for (const RunSettings& s : tasks) {
    StatusOr<TaskReport> t = BuildTask(store, s, options);
    if (!t.ok()) return t.status().WithContext(store.path() + ": task " + s.task);
    r.tasks.push_back(std::move(*t));
  }
  return r;
}

std::string RenderMarkdown(const Report& r) {
  std::string out = "# llemma eval: " + r.db + "\n\n";
  std::vector<std::string> models;
  for (const TaskReport& t : r.tasks) {
    if (std::find(models.begin(), models.end(), t.settings.model) == models.end()) {
      models.push_back(t.settings.model);
    }
  }
  for (const std::string& m : models) out += "model: " + MdEscape(m) + "\n";
  for (const TaskReport& t : r.tasks) {
    if (!t.settings.tools.empty())
      out += "tools: " + MdEscape(t.settings.task) + " ran as tool loops (" +
             MdEscape(t.settings.tools) + ")\n";
  }
  const std::vector<PaperNumber> paper_models = PaperModels();
  bool any_gen = false, any_ppl = false;
  for (const TaskReport& t : r.tasks) (t.perplexity ? any_ppl : any_gen) = true;
  if (any_gen) {
    out +=
        "\nAccuracy in percent. maj@1: the first sample alone; maj@k: the majority vote over k "
        "samples. Paper columns: maj@1 / maj@k as published (GSM8k and OCW maj@100, MMLU-STEM "
        "and SAT maj@16, MATH maj@256).\n\n";
    out +=
        "| task | checker | problems | k | T | top_p | maj@1 | maj@k | pass rate | invalid | tok/s "
        "|";
    for (const PaperNumber& m : paper_models) out += " " + std::string(m.model) + " |";
    out += "\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|";
    for (size_t i = 0; i < paper_models.size(); ++i) out += "---:|";
    out += "\n";
    for (const TaskReport& t : r.tasks) {
      if (t.perplexity) continue;
      const auto row = [&](const GroupMetrics& g, bool is_total) {
        std::string problems = std::to_string(g.n_problems);
        if (g.n_complete != g.n_problems) {
          problems = fmt::format("{} ({} complete)", g.n_problems, g.n_complete);
        }
        out += fmt::format(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            is_total ? MdEscape(t.settings.task) : "&nbsp;&nbsp;" + MdEscape(g.subject),
            is_total ? t.checker : "", problems, is_total ? std::to_string(t.settings.k) : "",
            is_total ? fmt::format("{:g}", t.settings.temperature) : "",
            is_total ? fmt::format("{:g}", t.settings.top_p) : "", Num(Pct(g.maj1)),
            t.settings.k > 1 ? Num(Pct(g.majk)) : "—", Num(Pct(g.pass_rate)),
            Num(Pct(g.invalid_rate)), is_total ? Num(t.tokens_per_second) : "");
        for (const PaperNumber& m : paper_models) {
          out += " " + (is_total ? PaperCell(t, m) : std::string()) + " |";
        }
        out += "\n";
      };
      row(t.total, true);
      for (const GroupMetrics& g : t.subjects) row(g, false);
    }
  }
  if (any_ppl) {
    out +=
        "\nPerplexity: per byte (the harness' weighted_perplexity), per token, and bits per "
        "byte.\n\n| task | problems | tokens | perplexity | token perplexity | bits/byte |\n"
        "|---|---:|---:|---:|---:|---:|\n";
    for (const TaskReport& t : r.tasks) {
      if (!t.perplexity) continue;
      const auto row = [&](const GroupMetrics& g, bool is_total) {
        out += fmt::format("| {} | {} | {} | {} | {} | {} |\n",
                           is_total ? MdEscape(t.settings.task) : "&nbsp;&nbsp;" + g.subject,
                           g.n_problems, g.n_scored_tokens, Num(g.Perplexity(), 4),
                           Num(g.TokenPerplexity(), 4), Num(g.BitsPerByte(), 4));
      };
      row(t.total, true);
      for (const GroupMetrics& g : t.subjects) row(g, false);
    }
  }
  return out;
}

std::string RenderJson(const Report& r) {
  json out;
  out["db"] = r.db;
  out["tasks"] = json::array();
  for (const TaskReport& t : r.tasks) {
    json j = GroupJson(t, t.total);
    j["task"] = t.settings.task;
    j["model"] = t.settings.model;
    j["preset"] = t.settings.preset;
    j["k"] = t.settings.k;
    j["temperature"] = t.settings.temperature;
    j["top_p"] = t.settings.top_p;
    j["max_tokens"] = t.settings.max_tokens;
    j["seed"] = t.settings.seed;
    j["prompt_sha256"] = t.settings.prompt_sha256;
    j["tools"] = t.settings.tools;
    j["checker"] = t.checker;
    j["created"] = t.settings.created;
    j["wall_seconds"] = t.settings.wall_seconds;
    if (!t.perplexity) j["tokens_per_second"] = t.tokens_per_second;
    json paper = json::object();
    for (const PaperNumber& n : t.paper) {
      json m;
      m["model"] = n.model;
      m["maj1"] = n.maj1 ? json(*n.maj1) : json(nullptr);
      m["majk"] = n.majk ? json(*n.majk) : json(nullptr);
      paper[std::string(n.key)] = m;
    }
    j["paper"] = paper;
    j["subjects"] = json::array();
    for (const GroupMetrics& g : t.subjects) j["subjects"].push_back(GroupJson(t, g));
    out["tasks"].push_back(j);
  }
  return out.dump(2) + "\n";
}

std::string RenderCsv(const Report& r) {
  const std::vector<PaperNumber> paper_models = PaperModels();
  std::string out =
      "task,subject,checker,n_problems,n_complete,n_samples,k,temperature,top_p,accuracy,maj1,majk,"
      "pass_rate,invalid_rate,tokens_per_second,perplexity,token_perplexity,bits_per_byte";
  for (const PaperNumber& m : paper_models) {
    out += fmt::format(",paper_{}_maj1,paper_{}_majk", m.key, m.key);
  }
  out += "\n";
  const auto opt = [](double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : ""; };
  for (const TaskReport& t : r.tasks) {
    const auto row = [&](const GroupMetrics& g, bool is_total) {
      out += fmt::format("{},{},{},{},{},{},{},{:g},{:g},", CsvField(t.settings.task),
                         CsvField(g.subject), t.checker, g.n_problems, g.n_complete, g.n_samples,
                         t.settings.k, t.settings.temperature, t.settings.top_p);
      if (t.perplexity) {
        out += fmt::format(",,,,,,{},{},{}", opt(g.Perplexity()), opt(g.TokenPerplexity()),
                           opt(g.BitsPerByte()));
      } else {
        out += fmt::format("{},{},{},{},{},{},,,", opt(Pct(t.settings.k > 1 ? g.majk : g.maj1)),
                           opt(Pct(g.maj1)), opt(Pct(g.majk)), opt(Pct(g.pass_rate)),
                           opt(Pct(g.invalid_rate)), is_total ? opt(t.tokens_per_second) : "");
      }
      for (const PaperNumber& m : paper_models) {
        std::string a, b;
        if (is_total) {
          for (const PaperNumber& n : t.paper) {
            if (n.key != m.key) continue;
            if (n.maj1) a = fmt::format("{:g}", *n.maj1);
            if (n.majk) b = fmt::format("{:g}", *n.majk);
          }
        }
        out += "," + a + "," + b;
      }
      out += "\n";
    };
    row(t.total, true);
    for (const GroupMetrics& g : t.subjects) row(g, false);
  }
  return out;
}

StatusOr<std::string> Render(const Report& r, const std::string& format) {
  if (format == "md" || format == "markdown") return RenderMarkdown(r);
  if (format == "json") return RenderJson(r);
  if (format == "csv") return RenderCsv(r);
  return InvalidArgumentError("--output must be md, json or csv, got \"" + format + "\"");
}

}  // namespace llemma::eval
