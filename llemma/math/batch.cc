#include "llemma/math/batch.h"

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

namespace llemma::math {
namespace {

using json = nlohmann::json;

StatusOr<std::vector<json>> ReadJsonl(const std::string& path) {
  std::ifstream f(path);
  if (!f) return NotFoundError(path + ": cannot open (check the path)");
  std::vector<json> rows;
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return InvalidArgumentError(path + ":" + std::to_string(n) + ": not valid JSON");
    if (!j.is_object()) return InvalidArgumentError(path + ":" + std::to_string(n) + ": expected a JSON object");
    j["__line"] = n;
    rows.push_back(std::move(j));
  }
  return rows;
}

std::string IdOf(const json& j) {
  if (!j.contains("id")) return "";
  return j["id"].is_string() ? j["id"].get<std::string>() : j["id"].dump();
}

std::optional<std::string> ReferenceOf(const json& j) {
  for (const char* k : {"reference", "answer", "solution", "target"}) {
    if (j.contains(k)) {
      if (j[k].is_string()) return j[k].get<std::string>();
      if (j[k].is_number()) return j[k].dump();
    }
  }
  return std::nullopt;
}

template <typename F>
void ParallelFor(int n, int threads, F f) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::min(threads, std::max(1, n));
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&]() {
      for (int i = next++; i < n; i = next++) f(i);
    });
  }
  for (auto& th : pool) th.join();
}

json Opt(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

}  // namespace

std::string BatchSummary::ToJson() const {
  return json{{"items", items},         {"samples", samples},     {"invalid", invalid},
              {"acc", acc},             {"acc_first", acc_first}, {"pass_rate", pass_rate},
              {"timed_out", timed_out}, {"seconds", seconds},     {"checks_per_second", checks_per_second}}
      .dump();
}

std::string PairsSummary::ToJson() const {
  json j{{"pairs", pairs}, {"equivalent", equivalent}, {"labelled", labelled}, {"seconds", seconds}};
  if (labelled > 0) {
    j["agree"] = agree;
    j["agreement"] = static_cast<double>(agree) / labelled;
  }
  return j.dump();
}

StatusOr<BatchSummary> ScorePredictions(const std::string& predictions_path, const std::string& references_path,
                                        const BatchOptions& options, std::ostream& out) {
  auto rows = ReadJsonl(predictions_path);
  if (!rows.ok()) return rows.status();
  std::map<std::string, std::string> refs;
  if (!references_path.empty()) {
    auto r = ReadJsonl(references_path);
    if (!r.ok()) return r.status();
    for (const json& j : *r) {
      auto ref = ReferenceOf(j);
      if (!j.contains("id") || !ref)
        return InvalidArgumentError(references_path + ":" + std::to_string(j["__line"].get<int>()) +
                                    ": needs \"id\" and one of \"reference\", \"answer\", \"solution\", \"target\"");
      refs[IdOf(j)] = *ref;
    }
  }
  struct Item {
    std::string id, reference;
    std::vector<std::string> completions;
  };
  std::vector<Item> items;
  for (const json& j : *rows) {
    const std::string where = predictions_path + ":" + std::to_string(j["__line"].get<int>());
    Item it;
    it.id = IdOf(j);
    if (auto r = ReferenceOf(j)) {
      it.reference = *r;
    } else if (auto f = refs.find(it.id); !it.id.empty() && f != refs.end()) {
      it.reference = f->second;
    } else {
      return InvalidArgumentError(where + ": no reference: give \"reference\" (or \"answer\"/\"solution\"/\"target\"), "
                                  "or --references with this \"id\"");
    }
    if (j.contains("completion") && j["completion"].is_string()) {
      it.completions.push_back(j["completion"].get<std::string>());
    } else if (j.contains("completions") && j["completions"].is_array()) {
      for (const json& c : j["completions"]) {
        if (!c.is_string()) return InvalidArgumentError(where + ": \"completions\" must hold strings");
        it.completions.push_back(c.get<std::string>());
      }
    }
    if (it.completions.empty())
      return InvalidArgumentError(where + ": needs \"completion\" (a string) or \"completions\" (strings)");
    items.push_back(std::move(it));
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<ItemScore> scores(items.size());
  ParallelFor(static_cast<int>(items.size()), options.threads, [&](int i) {
    scores[i] = ScoreItem(options.task, options.mode, items[i].reference, items[i].completions, options.check);
  });
  BatchSummary s;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (size_t i = 0; i < items.size(); ++i) {
    const ItemScore& sc = scores[i];
    json answers = json::array();
    for (const auto& a : sc.answers) answers.push_back(Opt(a));
    const bool first_ok = sc.answers[0] &&
                          Judge(options.task, options.mode, sc.reference, *sc.answers[0], options.check).equivalent;
    out << json{{"id", items[i].id},       {"reference", sc.reference}, {"answers", answers},
                {"elected", Opt(sc.vote.elected)}, {"acc", sc.vote.acc}, {"pass_rate", sc.vote.pass_rate},
                {"acc_first", first_ok},   {"valid", sc.vote.valid}}
               .dump()
        << "\n";
    s.items++;
    s.samples += static_cast<int>(sc.answers.size());
    s.invalid += static_cast<int>(sc.answers.size()) - sc.vote.valid;
    s.acc += sc.vote.acc;
    s.acc_first += first_ok;
    s.pass_rate += sc.vote.pass_rate;
  }
  if (s.items > 0) {
    s.acc /= s.items;
    s.acc_first /= s.items;
    s.pass_rate /= s.items;
  }
  s.checks_per_second = s.seconds > 0 ? s.samples / s.seconds : 0;
  return s;
}

StatusOr<PairsSummary> CheckPairs(const std::string& pairs_path, const BatchOptions& options, bool task_given,
                                  std::ostream& out) {
  auto rows = ReadJsonl(pairs_path);
  if (!rows.ok()) return rows.status();
  struct Pair {
    std::string reference, candidate;
    std::optional<Task> task;
    std::optional<bool> label;
    CheckOptions check;  // the run's options, with the pair's compare_config applied
    int line;
  };
  std::vector<Pair> pairs;
  for (const json& j : *rows) {
    const int line = j["__line"].get<int>();
    const std::string where = pairs_path + ":" + std::to_string(line);
    if (!j.contains("reference") || !j["reference"].is_string() || !j.contains("candidate") ||
        !j["candidate"].is_string())
      return InvalidArgumentError(where + ": needs \"reference\" and \"candidate\" strings");
    Pair p{j["reference"].get<std::string>(), j["candidate"].get<std::string>(), std::nullopt, std::nullopt, line};
    if (task_given) p.task = options.task;
    if (j.contains("task") && j["task"].is_string()) {
      p.task = ParseTask(j["task"].get<std::string>());
      if (!p.task) return InvalidArgumentError(where + ": unknown task \"" + j["task"].get<std::string>() + "\"");
    }
    if (j.contains("label")) {
      if (!j["label"].is_boolean()) return InvalidArgumentError(where + ": \"label\" must be true or false");
      p.label = j["label"].get<bool>();
    }
    p.check = options.check;
    // Math-Verify's per-pair settings: "allow_set_relation_comp": false
    // forbids matching "x \in [a, b]" with "a \le x \le b".
    if (j.contains("compare_config") && j["compare_config"].is_object()) {
      const json& c = j["compare_config"];
      if (c.contains("allow_set_relation_comp") && c["allow_set_relation_comp"].is_boolean())
        p.check.allow_set_relation = c["allow_set_relation_comp"].get<bool>();
    }
    pairs.push_back(std::move(p));
  }
  struct Result {
    std::optional<std::string> ref, cand;
    Verdict v;
  };
  std::vector<Result> results(pairs.size());
  const auto t0 = std::chrono::steady_clock::now();
  ParallelFor(static_cast<int>(pairs.size()), options.threads, [&](int i) {
    const Pair& p = pairs[i];
    Result& r = results[i];
    if (p.task) {
      r.ref = ReferenceAnswer(*p.task, options.mode, p.reference);
      r.cand = ExtractAnswer(*p.task, options.mode, p.candidate);
      if (!r.cand) r.cand = ExtractFreeform(p.candidate);
    } else {
      r.ref = ExtractFreeform(p.reference);
      r.cand = ExtractFreeform(p.candidate);
    }
    if (!r.ref || !r.cand) {
      r.v = {false, false, !r.ref ? "no answer found in the reference" : "no answer found in the candidate"};
      return;
    }
    r.v = p.task ? Judge(*p.task, options.mode, *r.ref, *r.cand, p.check) : CheckEquivalent(*r.ref, *r.cand, p.check);
  });
  PairsSummary s;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (size_t i = 0; i < pairs.size(); ++i) {
    const Result& r = results[i];
    json j{{"line", pairs[i].line},         {"equivalent", r.v.equivalent}, {"reason", r.v.reason},
           {"reference_answer", Opt(r.ref)}, {"candidate_answer", Opt(r.cand)}};
    if (r.v.timed_out) j["timed_out"] = true;
    if (pairs[i].label) {
      j["label"] = *pairs[i].label;
      s.labelled++;
      s.agree += *pairs[i].label == r.v.equivalent;
    }
    s.pairs++;
    s.equivalent += r.v.equivalent;
    out << j.dump() << "\n";
  }
  return s;
}

}  // namespace llemma::math
