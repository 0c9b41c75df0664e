// llemma eval: run benchmark tasks into a resumable results file and print
// accuracy next to the LLEMMA paper's numbers; `llemma eval report` renders
// a results file again, `llemma eval merge` unites shard files.
#include <fmt/core.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "llemma/core/dtype.h"
#include "llemma/eval/engine_backend.h"
#include "llemma/eval/report.h"
#include "llemma/eval/runner.h"
#include "llemma/eval/store.h"
#include "llemma/eval/task.h"
#if __has_include("llemma/eval/openai_backend.h")
#include "llemma/eval/openai_backend.h"
#define LLEMMA_EVAL_HAVE_OPENAI 1
#endif

namespace llemma::cli {

namespace {

struct EvalArgs {
  ModelOptions model;
  std::vector<std::string> task_words;  // positional
  std::string tasks, db, preset = "greedy", compat = "default", output = "md", data_dir, fields;
  std::string shard, model_name, api_key, tools;
  std::optional<int> k;
  std::optional<double> temperature, top_p;
  std::optional<int64_t> max_tokens;
  uint64_t seed = 1234;
  int64_t limit = 0;
  int parallel = 16, samples_per_request = 0, concurrency = 8, tool_rounds = 4;
  double progress_interval = 30;
  bool list_tasks = false, quiet = false, unsafe = false;
};

struct ReportArgs {
  std::string db, output = "md", compat, data_dir;
  bool unsafe = false;
};

struct MergeArgs {
  std::string out;
  std::vector<std::string> inputs;
};

bool IsUrl(const std::string& s) {
  return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0;
}

// The run's options, stored with its session.
std::string CommandLine(const EvalArgs& a) {
  std::string c =
      "llemma eval --model " + a.model.model + " --tasks " + a.tasks + " --preset " + a.preset;
  if (a.k) c += fmt::format(" --k {}", *a.k);
  if (a.temperature) c += fmt::format(" --temperature {:g}", *a.temperature);
  if (a.top_p) c += fmt::format(" --top-p {:g}", *a.top_p);
  if (a.max_tokens) c += fmt::format(" --max-tokens {}", *a.max_tokens);
  c += fmt::format(" --seed {}", a.seed);
  if (a.limit) c += fmt::format(" --limit {}", a.limit);
  if (!a.shard.empty()) c += " --shard " + a.shard;
  if (!a.tools.empty()) c += fmt::format(" --tools {} --tool-rounds {}", a.tools, a.tool_rounds);
  return c;
}

// Scores the stored completions, renders the report and prints it; the exit code.
int PrintReport(eval::Store& store, const eval::ReportOptions& ro, const std::string& output) {
  auto report = eval::BuildReport(store, ro);
  if (!report.ok()) return ReportError(report.status());
  auto text = eval::Render(*report, output);
  if (!text.ok()) return ReportError(text.status());
  std::cout << *text << std::flush;
  return 0;
}

int RunEval(EvalArgs& a) {
  if (a.list_tasks) {
    for (const auto& [name, desc] : eval::ListTasks()) fmt::print("{:<12} {}\n", name, desc);
    return 0;
  }
  for (const std::string& w : a.task_words) a.tasks += (a.tasks.empty() ? "" : ",") + w;
  if (a.tasks.empty()) {
    return ReportError(
        InvalidArgumentError("no task given: llemma eval --tasks gsm8k,math --model DIR --db "
                             "RUN.db (--list-tasks lists them)"));
  }
  if (a.model.model.empty()) {
    return ReportError(InvalidArgumentError(
        "--model is required: a Hugging Face directory, a .gguf file or http://host:port/v1"));
  }
  if (a.db.empty()) {
    return ReportError(InvalidArgumentError(
        "--db RUN.db is required: the results file (running again with the same --db resumes)"));
  }
  const auto mode = math::ParseMode(a.compat);
  if (!mode) {
    return ReportError(
        InvalidArgumentError("--compat must be default or llemma, got \"" + a.compat + "\""));
  }
  eval::EvalOptions o;
  o.preset = a.preset;
  o.k = a.k;
  o.temperature = a.temperature;
  o.top_p = a.top_p;
  o.max_tokens = a.max_tokens;
  o.seed = a.seed;
  o.limit = a.limit;
  o.mode = *mode;
  o.fields = a.fields;
  o.tools = a.tools;
  o.tool_rounds = a.tool_rounds;
  // Each step of a tool loop is its own request: as many loops as sequences decode together
  // (engine) or requests are in flight (server).
  o.tool_parallel = IsUrl(a.model.model) ? a.concurrency : a.parallel;
  if (a.limit < 0) return ReportError(InvalidArgumentError("--limit must be >= 0"));
  if (!a.shard.empty()) {
    if (Status s = eval::ParseShard(a.shard, &o.shard_index, &o.shard_count); !s.ok()) {
      return ReportError(s);
    }
  }
  const std::string data_dir = a.data_dir.empty() ? eval::DefaultDataDir() : a.data_dir;
  eval::AllowUnsafeToolSandbox(a.unsafe);
  auto tasks = eval::MakeTasks(a.tasks, data_dir, a.fields);
  if (!tasks.ok()) return ReportError(tasks.status());
  // Settings errors (a bad --preset, --top-p ...) before loading a model.
  for (const auto& t : *tasks) {
    if (auto s = eval::ResolveSettings(*t, {}, o, ""); !s.ok()) return ReportError(s.status());
  }
  auto store = eval::Store::Open(a.db);
  if (!store.ok()) return ReportError(store.status());

  std::unique_ptr<eval::Backend> backend;
  LoadedModel lm;  // owns the model the engine backend reads
  if (IsUrl(a.model.model)) {
#ifdef LLEMMA_EVAL_HAVE_OPENAI
    eval::OpenAIOptions oo;
    oo.base_url = a.model.model;
    oo.model = a.model_name;
    oo.api_key = a.api_key;
    oo.concurrency = a.concurrency;
    auto b = eval::OpenAIBackend::Create(oo);
    if (!b.ok()) return ReportError(b.status());
    backend = std::move(*b);
#else
    return ReportError(UnimplementedError("this build has no OpenAI-compatible backend"));
#endif
  } else {
    auto loaded = LoadModelAndTokenizer(a.model);
    if (!loaded.ok()) return ReportError(loaded.status());
    lm = std::move(*loaded);
    eval::EngineOptions eo;
    eo.n_threads = a.model.threads;
    eo.parallel = a.parallel;
    eo.n_ctx = a.model.ctx;
    eo.kv_type = *ParseKvType(a.model.kv_type);  // checked when the model loaded
    std::error_code ec;
    std::string path = std::filesystem::absolute(a.model.model, ec).lexically_normal().string();
    if (ec) path = a.model.model;
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    auto b = eval::EngineBackend::Create(*lm.model, *lm.tokenizer,
                                         path + " " + DTypeName(lm.model->dtype()), eo);
    if (!b.ok()) return ReportError(b.status());
    backend = std::move(*b);
    // k samples of a problem decode together; more than `parallel` go in several requests.
    o.samples_per_request = a.samples_per_request > 0 ? a.samples_per_request : a.parallel;
  }
  if (a.samples_per_request > 0) o.samples_per_request = a.samples_per_request;

  if (auto s = (*store)->BeginSession(CommandLine(a)); !s.ok()) return ReportError(s.status());
  eval::StderrProgress stderr_progress(a.progress_interval);
  const Status run =
      eval::RunEvaluation(*backend, **store, *tasks, o, a.quiet ? nullptr : &stderr_progress);
  if (!run.ok()) {
    ReportError(run);
    std::cerr << "llemma: finished samples are kept in " << a.db
              << "; run the same command again to resume\n";
    return 1;
  }
  eval::ReportOptions ro;
  ro.data_dir = data_dir;
  ro.mode = *mode;
  return PrintReport(**store, ro, a.output);
}

int RunReport(const ReportArgs& a) {
  auto store = eval::Store::Open(a.db, /*create=*/false);
  if (!store.ok()) return ReportError(store.status());
  eval::AllowUnsafeToolSandbox(a.unsafe);
  eval::ReportOptions ro;
  ro.data_dir = a.data_dir;
  if (!a.compat.empty()) {
    const auto mode = math::ParseMode(a.compat);
    if (!mode) {
      return ReportError(
          InvalidArgumentError("--compat must be default or llemma, got \"" + a.compat + "\""));
    }
    ro.mode = *mode;
  }
  return PrintReport(**store, ro, a.output);
}

int RunMerge(const MergeArgs& a) {
  const Status s = eval::Store::Merge(a.out, a.inputs);
  if (!s.ok()) return ReportError(s);
  std::cerr << fmt::format("llemma eval merge: {} files into {}\n", a.inputs.size(), a.out);
  return 0;
}

}  // namespace

void AddEvalCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Evaluate on math benchmarks (resumable, sharded), reported beside the paper");
  cmd->require_subcommand(0, 1);
  cmd->add_option("TASK", a->task_words, "tasks (as --tasks)");
  cmd->add_option("--tasks", a->tasks,
                  "comma-separated: gsm8k, math, math:<subject>, ocw, mmlu_stem, "
                  "mmlu_stem:<subject>, sat, math500, math_ppl, gsm8k_python, math_python, "
                  "math_python:<subject>, TASK@FILE.jsonl");
  cmd->add_option("-m,--model", a->model.model,
                  "Hugging Face directory, GGUF file, or an OpenAI-compatible URL "
                  "(http://host:port/v1)");
  cmd->add_option("--db", a->db, "results file (SQLite); the same --db again resumes");
  cmd->add_option("--preset", a->preset,
                  "greedy (maj@1) | paper (the paper's k, temperature, top_p per task)")
      ->capture_default_str();
  cmd->add_option("-k,--k", a->k, "samples per problem (maj@k)");
  cmd->add_option("--temperature", a->temperature, "sampling temperature (0 = greedy)");
  cmd->add_option("--top-p", a->top_p, "nucleus sampling threshold");
  cmd->add_option("-n,--max-tokens", a->max_tokens, "new tokens per sample (default: 1024)");
  cmd->add_option("--seed", a->seed, "run seed; sample j of a problem uses a seed derived from it")
      ->capture_default_str();
  cmd->add_option("--limit", a->limit, "first N problems of each subject (0 = all)");
  cmd->add_option("--shard", a->shard, "i/n: this machine's share (problems i-1, i-1+n, ...)");
  cmd->add_option("--compat", a->compat,
                  "checker: default (ours) | llemma (the LLEMMA harness, quirks included)")
      ->capture_default_str();
  cmd->add_option("-o,--output", a->output, "report format: md | json | csv")
      ->capture_default_str();
  cmd->add_option("--data-dir", a->data_dir,
                  "folder with benchmarks/ and prompts/ (default: $LLEMMA_DATA_DIR or the "
                  "bundled data)");
  cmd->add_option("--fields", a->fields,
                  "field mapping for TASK@FILE tasks, e.g. question=q,answer=ans");
  cmd->add_option("--parallel", a->parallel,
                  "built-in engine: sequences decoding together (problems in flight x samples)")
      ->capture_default_str();
  cmd->add_option("--samples-per-request", a->samples_per_request,
                  "split a problem's k samples into requests of N (default: --parallel for the "
                  "engine, k for a server)");
  cmd->add_option("--model-name", a->model_name,
                  "server: model name to send (default: the first listed)");
  cmd->add_option("--api-key", a->api_key, "server: bearer token (default: $OPENAI_API_KEY)");
  cmd->add_option("--concurrency", a->concurrency, "server: requests in flight")
      ->capture_default_str();
  cmd->add_option("--tokenizer", a->model.tokenizer, "tokenizer.model (default: in --model)");
  cmd->add_option("--dtype", a->model.dtype, "weights in memory: bf16 | f16 | f32 | q8_0 | q4_0")
      ->capture_default_str();
  cmd->add_option("-t,--threads", a->model.threads, "threads (0 = one per core)");
  cmd->add_option("-c,--ctx", a->model.ctx,
                  "context cap in tokens (0 = the model's max_position_embeddings)");
  cmd->add_option("--kv-type", a->model.kv_type, "KV cache values: f16 (half the memory and bytes read) | f32 (exact)")
      ->capture_default_str();
  cmd->add_option("--progress-interval", a->progress_interval,
                  "seconds between progress lines when stderr is not a terminal")
      ->capture_default_str();
  cmd->add_flag("-q,--quiet", a->quiet, "no progress on stderr");
  cmd->add_flag("--list-tasks", a->list_tasks, "list the tasks and exit");
  CLI::Option* tools = cmd->add_option(
      "--tools", a->tools,
      "python: tool-integrated evaluation; every sample may write ```python blocks, "
      "each runs in the sandbox when the block closes and its output is appended as "
      "a ```output block before generation resumes (generative tasks only; stored "
      "with the run)");
  cmd->add_option("--tool-rounds", a->tool_rounds,
                  "with --tools: programs run per sample at most (later blocks are not run)")
      ->capture_default_str()
      ->needs(tools);
  cmd->add_flag("--unsafe-no-sandbox", a->unsafe,
                "tool-use tasks and --tools: run the programs without bubblewrap where it cannot "
                "start (no isolation)");

  auto r = std::make_shared<ReportArgs>();
  CLI::App* report = cmd->add_subcommand(
      "report", "Render a results file again (and re-score it with another checker mode)");
  report->add_option("db", r->db, "results file")->required();
  report->add_option("-o,--output", r->output, "md | json | csv")->capture_default_str();
  report->add_option("--compat", r->compat, "checker: default | llemma (default: as the run)");
  report->add_option("--data-dir", r->data_dir, "folder with benchmarks/ and prompts/");
  report->add_flag("--unsafe-no-sandbox", r->unsafe,
                   "tool-use tasks: run the programs without bubblewrap where it cannot start");
  report->callback([r, exit_code]() { *exit_code = RunReport(*r); });

  auto m = std::make_shared<MergeArgs>();
  CLI::App* merge = cmd->add_subcommand("merge", "Unite shard results files into one");
  merge->add_option("--out", m->out, "the merged results file (created if needed)")->required();
  merge->add_option("inputs", m->inputs, "shard results files")->required();
  merge->callback([m, exit_code]() { *exit_code = RunMerge(*m); });

  cmd->callback([a, cmd, report, merge, exit_code]() {
    if (cmd->got_subcommand(report) || cmd->got_subcommand(merge)) return;
    *exit_code = RunEval(*a);
  });
}

}  // namespace llemma::cli
