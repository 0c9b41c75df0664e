#include "llemma/eval/store.h"

#include <fmt/core.h>
#include <sqlite3.h>

#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>

namespace llemma::eval {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS runs (
  task TEXT PRIMARY KEY, model TEXT NOT NULL, preset TEXT NOT NULL, k INTEGER NOT NULL,
  temperature REAL NOT NULL, top_p REAL NOT NULL, max_tokens INTEGER NOT NULL, seed TEXT NOT NULL,
  prompt_sha256 TEXT NOT NULL, fields TEXT NOT NULL, checker TEXT NOT NULL, created TEXT NOT NULL,
  wall_seconds REAL NOT NULL DEFAULT 0, tools TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS sessions (
  id INTEGER PRIMARY KEY, started TEXT NOT NULL, command TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS problems (
  task TEXT NOT NULL, problem_id TEXT NOT NULL, subject TEXT NOT NULL, reference TEXT NOT NULL,
  UNIQUE(task, problem_id));
CREATE TABLE IF NOT EXISTS samples (
  task TEXT NOT NULL, problem_id TEXT NOT NULL, sample_index INTEGER NOT NULL, completion TEXT NOT NULL,
  finish_reason TEXT NOT NULL, n_prompt_tokens INTEGER NOT NULL, n_tokens INTEGER NOT NULL,
  seconds REAL NOT NULL, session INTEGER NOT NULL, created TEXT NOT NULL,
  UNIQUE(task, problem_id, sample_index));
CREATE TABLE IF NOT EXISTS verdicts (
  task TEXT NOT NULL, problem_id TEXT NOT NULL, checker TEXT NOT NULL, sample_index INTEGER NOT NULL,
  answer TEXT, correct INTEGER NOT NULL, UNIQUE(task, problem_id, checker, sample_index));
CREATE TABLE IF NOT EXISTS votes (
  task TEXT NOT NULL, problem_id TEXT NOT NULL, checker TEXT NOT NULL, n_samples INTEGER NOT NULL,
  elected TEXT, acc INTEGER NOT NULL, pass_rate REAL NOT NULL, valid INTEGER NOT NULL,
  UNIQUE(task, problem_id, checker));
CREATE TABLE IF NOT EXISTS scores (
  task TEXT NOT NULL, problem_id TEXT NOT NULL, logprob REAL NOT NULL, n_tokens INTEGER NOT NULL,
  n_bytes INTEGER NOT NULL, seconds REAL NOT NULL, session INTEGER NOT NULL, created TEXT NOT NULL,
  UNIQUE(task, problem_id));
)sql";

}  // namespace

// A prepared statement, finalized when it goes away.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  void Bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void Bind(int i, double v) { sqlite3_bind_double(s_, i, v); }
  void BindNull(int i) { sqlite3_bind_null(s_, i); }
  bool IsNull(int i) { return sqlite3_column_type(s_, i) == SQLITE_NULL; }
  int Step() { return sqlite3_step(s_); }
  void Reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  std::string Text(int i) {
    const unsigned char* t = sqlite3_column_text(s_, i);
    return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(s_, i))
             : std::string();
  }
  int64_t Int(int i) { return sqlite3_column_int64(s_, i); }
  double Real(int i) { return sqlite3_column_double(s_, i); }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

namespace {

// Commits on Commit(), rolls back otherwise.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {
    ok_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~Transaction() {
    if (ok_ && !done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  bool ok() const { return ok_; }
  bool Commit() {
    done_ = true;
    return sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  }

 private:
  sqlite3* db_;
  bool ok_ = false, done_ = false;
};

std::string FormatNumber(double v) { return fmt::format("{:g}", v); }

}  // namespace

std::string DescribeSettingsMismatch(const std::string& db, const RunSettings& a,
                                     const RunSettings& b) {
  std::string field, want;
  if (a.k != b.k) {
    field = fmt::format("k={}", a.k);
    want = fmt::format("k={}", b.k);
  } else if (a.temperature != b.temperature) {
    field = "temperature=" + FormatNumber(a.temperature);
    want = "temperature=" + FormatNumber(b.temperature);
  } else if (a.top_p != b.top_p) {
    field = "top_p=" + FormatNumber(a.top_p);
    want = "top_p=" + FormatNumber(b.top_p);
  } else if (a.max_tokens != b.max_tokens) {
    field = fmt::format("max_tokens={}", a.max_tokens);
    want = fmt::format("max_tokens={}", b.max_tokens);
  } else if (a.seed != b.seed) {
    field = fmt::format("seed={}", a.seed);
    want = fmt::format("seed={}", b.seed);
  } else if (a.model != b.model) {
    field = "model '" + a.model + "'";
    want = "model '" + b.model + "'";
  } else if (a.prompt_sha256 != b.prompt_sha256) {
    field = "prompts of sha256 " + a.prompt_sha256.substr(0, 12);
    want = "prompts of sha256 " + b.prompt_sha256.substr(0, 12);
  } else if (a.fields != b.fields) {
    field = "--fields '" + a.fields + "'";
    want = "--fields '" + b.fields + "'";
  } else if (a.tools != b.tools) {
    const auto tools = [](const std::string& t) {
      return t.empty() ? std::string("no --tools") : "--tools " + t;
    };
    field = tools(a.tools);
    want = tools(b.tools);
  } else {
    return "";
  }
  return fmt::format("{} holds {} with {} (this run has {}); use the same settings or a new --db",
                     db, a.task, field, want);
}

Store::~Store() {
  if (db_) sqlite3_close(db_);
}

Status Store::Error(const std::string& what) const {
  return InternalError(
      fmt::format("{}: {}: {}", path_, what, db_ ? sqlite3_errmsg(db_) : "cannot open"));
}

Status Store::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "unknown error";
    sqlite3_free(err);
    return InternalError(path_ + ": " + m);
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path, bool create) {
  if (path.empty()) return InvalidArgumentError("no results file given (--db)");
  if (!create && !std::filesystem::exists(path))
    return NotFoundError(path + ": no such results file");
  std::unique_ptr<Store> s(new Store);
  s->path_ = path;
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &s->db_, flags, nullptr) != SQLITE_OK) {
    return InvalidArgumentError(fmt::format("{}: cannot open results file: {}", path,
                                            s->db_ ? sqlite3_errmsg(s->db_) : "out of memory"));
  }
  sqlite3_busy_timeout(s->db_, 30000);
  char* err = nullptr;
  if (sqlite3_exec(s->db_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", nullptr, nullptr,
                   &err) != SQLITE_OK) {
    std::string m = err ? err : "";
    sqlite3_free(err);
    return InvalidArgumentError(path + ": not a results file (" + m + ")");
  }
  if (Status st = s->Exec(kSchema); !st.ok()) {
    return InvalidArgumentError(path + ": not a results file (" + std::string(st.message()) + ")");
  }
  // Files written before --tools existed: their runs had none.
  if (!Stmt(s->db_, "SELECT tools FROM runs LIMIT 0").ok()) {
    LLEMMA_RETURN_IF_ERROR(s->Exec("ALTER TABLE runs ADD COLUMN tools TEXT NOT NULL DEFAULT ''"));
  }
  return s;
}

Status Store::BeginTask(const RunSettings& want) {
  LLEMMA_ASSIGN_OR_RETURN(std::vector<RunSettings> have, Tasks());
  for (const RunSettings& h : have) {
    if (h.task != want.task) continue;
    const std::string m = DescribeSettingsMismatch(path_, h, want);
    if (!m.empty()) return FailedPreconditionError(m);
    if (!want.checker.empty() && want.checker != h.checker) {
      Stmt u(db_, "UPDATE runs SET checker = ? WHERE task = ?");
      u.Bind(1, want.checker);
      u.Bind(2, want.task);
      if (u.Step() != SQLITE_DONE) return Error("updating the checker mode");
    }
    return Status::Ok();
  }
  Stmt q(db_,
         "INSERT INTO runs (task, model, preset, k, temperature, top_p, max_tokens, seed, "
         "prompt_sha256, fields, checker, created, wall_seconds, tools) "
         "VALUES (?,?,?,?,?,?,?,?,?,?,?,strftime('%Y-%m-%dT%H:%M:%fZ','now'),?,?)");
  if (!q.ok()) return Error("prepare");
  q.Bind(1, want.task);
  q.Bind(2, want.model);
  q.Bind(3, want.preset);
  q.Bind(4, static_cast<int64_t>(want.k));
  q.Bind(5, want.temperature);
  q.Bind(6, want.top_p);
  q.Bind(7, want.max_tokens);
  q.Bind(8, std::to_string(want.seed));
  q.Bind(9, want.prompt_sha256);
  q.Bind(10, want.fields);
  q.Bind(11, want.checker.empty() ? std::string("default") : want.checker);
  q.Bind(12, want.wall_seconds);
  q.Bind(13, want.tools);
  if (q.Step() != SQLITE_DONE) return Error("storing run settings");
  return Status::Ok();
}

StatusOr<std::vector<RunSettings>> Store::Tasks() {
  Stmt q(db_,
         "SELECT task, model, preset, k, temperature, top_p, max_tokens, seed, prompt_sha256, "
         "created, wall_seconds, fields, checker, tools "
         "FROM runs ORDER BY rowid");
  if (!q.ok()) return Error("prepare");
  std::vector<RunSettings> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    RunSettings s;
    s.task = q.Text(0);
    s.model = q.Text(1);
    s.preset = q.Text(2);
    s.k = static_cast<int>(q.Int(3));
    s.temperature = q.Real(4);
    s.top_p = q.Real(5);
    s.max_tokens = q.Int(6);
    s.seed = std::stoull(q.Text(7));
    s.prompt_sha256 = q.Text(8);
    s.created = q.Text(9);
    s.wall_seconds = q.Real(10);
    s.fields = q.Text(11);
    s.checker = q.Text(12);
    s.tools = q.Text(13);
    out.push_back(std::move(s));
  }
  if (rc != SQLITE_DONE) return Error("reading runs");
  return out;
}

StatusOr<std::optional<RunSettings>> Store::Task(const std::string& task) {
  LLEMMA_ASSIGN_OR_RETURN(std::vector<RunSettings> all, Tasks());
  for (RunSettings& s : all) {
    if (s.task == task) return std::optional<RunSettings>(std::move(s));
  }
  return std::optional<RunSettings>();
}

StatusOr<int64_t> Store::BeginSession(const std::string& command) {
  Stmt q(db_,
         "INSERT INTO sessions (started, command) VALUES "
         "(strftime('%Y-%m-%dT%H:%M:%fZ','now'), ?)");
  if (!q.ok()) return Error("prepare");
  q.Bind(1, command);
  if (q.Step() != SQLITE_DONE) return Error("starting a session");
  session_ = sqlite3_last_insert_rowid(db_);
  return session_;
}

StatusOr<std::vector<StoredSession>> Store::Sessions() {
  Stmt q(db_, "SELECT id, started, command FROM sessions ORDER BY id");
  if (!q.ok()) return Error("prepare");
  std::vector<StoredSession> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back({q.Int(0), q.Text(1), q.Text(2)});
  if (rc != SQLITE_DONE) return Error("reading sessions");
  return out;
}

Status Store::AddWall(const std::string& task, double seconds) {
  if (seconds == 0) return Status::Ok();
  Stmt u(db_, "UPDATE runs SET wall_seconds = wall_seconds + ? WHERE task = ?");
  if (!u.ok()) return Error("prepare");
  u.Bind(1, seconds);
  u.Bind(2, task);
  if (u.Step() != SQLITE_DONE) return Error("updating wall time");
  return Status::Ok();
}

Status Store::AddProblems(const std::string& task, std::span<const StoredProblem> problems) {
  Transaction t(db_);
  if (!t.ok()) return Error("begin");
  Stmt q(db_,
         "INSERT OR IGNORE INTO problems (task, problem_id, subject, reference) VALUES (?,?,?,?)");
  if (!q.ok()) return Error("prepare");
  for (const StoredProblem& p : problems) {
    q.Bind(1, task);
    q.Bind(2, p.problem_id);
    q.Bind(3, p.subject);
    q.Bind(4, p.reference);
    if (q.Step() != SQLITE_DONE) return Error("storing problems");
    q.Reset();
  }
  if (!t.Commit()) return Error("commit");
  return Status::Ok();
}

StatusOr<std::vector<StoredProblem>> Store::Problems(const std::string& task) {
  Stmt q(db_, "SELECT problem_id, subject, reference FROM problems WHERE task = ? ORDER BY rowid");
  if (!q.ok()) return Error("prepare");
  q.Bind(1, task);
  std::vector<StoredProblem> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back({q.Text(0), q.Text(1), q.Text(2)});
  if (rc != SQLITE_DONE) return Error("reading problems");
  return out;
}

Status Store::AddSamples(const std::string& task, const std::string& problem_id,
                         std::span<const GenSample> samples, double wall_seconds) {
  Transaction t(db_);
  if (!t.ok()) return Error("begin");
  Stmt find(
      db_, "SELECT completion FROM samples WHERE task = ? AND problem_id = ? AND sample_index = ?");
  Stmt ins(db_,
           "INSERT INTO samples (task, problem_id, sample_index, completion, finish_reason, "
           "n_prompt_tokens, n_tokens, seconds, session, created) "
           "VALUES (?,?,?,?,?,?,?,?,?,strftime('%Y-%m-%dT%H:%M:%fZ','now'))");
  if (!find.ok() || !ins.ok()) return Error("prepare");
  for (const GenSample& s : samples) {
    if (s.index < 0)
      return InvalidArgumentError(fmt::format("{} {}: negative sample index", task, problem_id));
    find.Bind(1, task);
    find.Bind(2, problem_id);
    find.Bind(3, static_cast<int64_t>(s.index));
    const int rc = find.Step();
    if (rc == SQLITE_ROW) {
      if (find.Text(0) != s.text) {
        return FailedPreconditionError(
            fmt::format("{}: {} problem {} sample {} is already stored with another text", path_,
                        task, problem_id, s.index));
      }
      find.Reset();
      continue;
    }
    if (rc != SQLITE_DONE) return Error("reading samples");
    find.Reset();
    ins.Bind(1, task);
    ins.Bind(2, problem_id);
    ins.Bind(3, static_cast<int64_t>(s.index));
    ins.Bind(4, s.text);
    ins.Bind(5, s.finish_reason);
    ins.Bind(6, s.n_prompt_tokens);
    ins.Bind(7, s.n_tokens);
    ins.Bind(8, s.seconds);
    ins.Bind(9, session_);
    if (ins.Step() != SQLITE_DONE) return Error("storing a sample");
    ins.Reset();
  }
  LLEMMA_RETURN_IF_ERROR(AddWall(task, wall_seconds));
  if (!t.Commit()) return Error("commit");
  return Status::Ok();
}

StatusOr<std::map<std::string, std::set<int>>> Store::SampleIndices(const std::string& task) {
  Stmt q(db_, "SELECT problem_id, sample_index FROM samples WHERE task = ?");
  if (!q.ok()) return Error("prepare");
  q.Bind(1, task);
  std::map<std::string, std::set<int>> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out[q.Text(0)].insert(static_cast<int>(q.Int(1)));
  if (rc != SQLITE_DONE) return Error("reading samples");
  return out;
}

StatusOr<std::vector<StoredSample>> Store::Samples(const std::string& task) {
  Stmt q(db_,
         "SELECT s.problem_id, s.sample_index, s.completion, s.finish_reason, s.n_prompt_tokens, "
         "s.n_tokens, s.seconds, s.created, s.rowid, s.session FROM samples s LEFT JOIN problems p "
         "ON p.task = s.task AND p.problem_id = s.problem_id WHERE s.task = ? "
         "ORDER BY p.rowid, s.problem_id, s.sample_index");
  if (!q.ok()) return Error("prepare");
  q.Bind(1, task);
  return ReadSamples(q);
}

StatusOr<std::vector<StoredSample>> Store::Samples(const std::string& task,
                                                   const std::string& problem_id) {
  Stmt q(db_,
         "SELECT problem_id, sample_index, completion, finish_reason, n_prompt_tokens, "
         "n_tokens, seconds, created, rowid, session FROM samples "
         "WHERE task = ? AND problem_id = ? ORDER BY sample_index");
  if (!q.ok()) return Error("prepare");
  q.Bind(1, task);
  q.Bind(2, problem_id);
  return ReadSamples(q);
}

StatusOr<std::vector<StoredSample>> Store::ReadSamples(Stmt& q) {
  std::vector<StoredSample> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    StoredSample s;
    s.problem_id = q.Text(0);
    s.sample.index = static_cast<int>(q.Int(1));
    s.sample.text = q.Text(2);
    s.sample.finish_reason = q.Text(3);
    s.sample.n_prompt_tokens = q.Int(4);
    s.sample.n_tokens = q.Int(5);
    s.sample.seconds = q.Real(6);
    s.created = q.Text(7);
    s.rowid = q.Int(8);
    s.session = q.Int(9);
    out.push_back(std::move(s));
  }
  if (rc != SQLITE_DONE) return Error("reading samples");
  return out;
}

Status Store::AddScore(const std::string& task, const StoredScore& s, double wall_seconds) {
  Transaction t(db_);
  if (!t.ok()) return Error("begin");
  Stmt q(db_,
         "INSERT OR IGNORE INTO scores (task, problem_id, logprob, n_tokens, n_bytes, seconds, "
         "session, created) VALUES (?,?,?,?,?,?,?,strftime('%Y-%m-%dT%H:%M:%fZ','now'))");
  if (!q.ok()) return Error("prepare");
  q.Bind(1, task);
  q.Bind(2, s.problem_id);
  q.Bind(3, s.ll.logprob);
  q.Bind(4, s.ll.n_tokens);
  q.Bind(5, s.n_bytes);
  q.Bind(6, s.seconds);
  q.Bind(7, session_);
  if (q.Step() != SQLITE_DONE) return Error("storing a score");
  LLEMMA_RETURN_IF_ERROR(AddWall(task, wall_seconds));
  if (!t.Commit()) return Error("commit");
  return Status::Ok();
}

StatusOr<std::vector<StoredScore>> Store::Scores(const std::string& task) {
  Stmt q(db_,
         "SELECT problem_id, logprob, n_tokens, seconds, n_bytes, session FROM scores "
         "WHERE task = ? ORDER BY rowid");
  if (!q.ok()) return Error("prepare");
  q.Bind(1, task);
  std::vector<StoredScore> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    StoredScore s;
    s.problem_id = q.Text(0);
    s.ll.logprob = q.Real(1);
    s.ll.n_tokens = q.Int(2);
    s.seconds = q.Real(3);
    s.n_bytes = q.Int(4);
    s.session = q.Int(5);
    out.push_back(std::move(s));
  }
  if (rc != SQLITE_DONE) return Error("reading scores");
  return out;
}

Status Store::PutVerdicts(const std::string& task, const std::string& checker,
                          std::span<const ProblemVerdict> verdicts) {
  Transaction t(db_);
  if (!t.ok()) return Error("begin");
  Stmt del(db_, "DELETE FROM verdicts WHERE task = ? AND problem_id = ? AND checker = ?");
  Stmt ins(db_,
           "INSERT INTO verdicts (task, problem_id, checker, sample_index, answer, correct) "
           "VALUES (?,?,?,?,?,?)");
  Stmt vote(db_,
            "INSERT OR REPLACE INTO votes (task, problem_id, checker, n_samples, elected, acc, "
            "pass_rate, valid) VALUES (?,?,?,?,?,?,?,?)");
  if (!del.ok() || !ins.ok() || !vote.ok()) return Error("prepare");
  for (const ProblemVerdict& v : verdicts) {
    del.Bind(1, task);
    del.Bind(2, v.problem_id);
    del.Bind(3, checker);
    if (del.Step() != SQLITE_DONE) return Error("replacing verdicts");
    del.Reset();
    for (const SampleVerdict& sv : v.samples) {
      ins.Bind(1, task);
      ins.Bind(2, v.problem_id);
      ins.Bind(3, checker);
      ins.Bind(4, static_cast<int64_t>(sv.index));
      if (sv.answer) {
        ins.Bind(5, *sv.answer);
      } else {
        ins.BindNull(5);
      }
      ins.Bind(6, static_cast<int64_t>(sv.correct));
      if (ins.Step() != SQLITE_DONE) return Error("storing verdicts");
      ins.Reset();
    }
    vote.Bind(1, task);
    vote.Bind(2, v.problem_id);
    vote.Bind(3, checker);
    vote.Bind(4, static_cast<int64_t>(v.n_samples));
    if (v.elected) {
      vote.Bind(5, *v.elected);
    } else {
      vote.BindNull(5);
    }
    vote.Bind(6, static_cast<int64_t>(v.acc));
    vote.Bind(7, v.pass_rate);
    vote.Bind(8, static_cast<int64_t>(v.valid));
    if (vote.Step() != SQLITE_DONE) return Error("storing votes");
    vote.Reset();
  }
  if (!t.Commit()) return Error("commit");
  return Status::Ok();
}

StatusOr<std::map<std::string, ProblemVerdict>> Store::Verdicts(const std::string& task,
                                                                const std::string& checker) {
  std::map<std::string, ProblemVerdict> out;
  Stmt v(db_,
         "SELECT problem_id, n_samples, elected, acc, pass_rate, valid FROM votes "
         "WHERE task = ? AND checker = ?");
  if (!v.ok()) return Error("prepare");
  v.Bind(1, task);
  v.Bind(2, checker);
  int rc;
  while ((rc = v.Step()) == SQLITE_ROW) {
    ProblemVerdict& p = out[v.Text(0)];
    p.problem_id = v.Text(0);
    p.n_samples = static_cast<int>(v.Int(1));
    if (!v.IsNull(2)) p.elected = v.Text(2);
    p.acc = v.Int(3) != 0;
    p.pass_rate = v.Real(4);
    p.valid = static_cast<int>(v.Int(5));
  }
  if (rc != SQLITE_DONE) return Error("reading votes");
  Stmt s(db_,
         "SELECT problem_id, sample_index, answer, correct FROM verdicts "
         "WHERE task = ? AND checker = ? ORDER BY problem_id, sample_index");
  if (!s.ok()) return Error("prepare");
  s.Bind(1, task);
  s.Bind(2, checker);
  while ((rc = s.Step()) == SQLITE_ROW) {
    auto it = out.find(s.Text(0));
    if (it == out.end()) continue;  // a vote is written with its verdicts; none means none
    SampleVerdict sv;
    sv.index = static_cast<int>(s.Int(1));
    if (!s.IsNull(2)) sv.answer = s.Text(2);
    sv.correct = s.Int(3) != 0;
    it->second.samples.push_back(std::move(sv));
  }
  if (rc != SQLITE_DONE) return Error("reading verdicts");
  return out;
}

Status Store::Merge(const std::string& out, const std::vector<std::string>& inputs) {
  if (inputs.empty()) return InvalidArgumentError("merge needs at least one input results file");
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (std::filesystem::exists(out) && std::filesystem::equivalent(out, in, ec)) {
      return InvalidArgumentError("merge: the output " + out + " is also an input");
    }
  }
  LLEMMA_ASSIGN_OR_RETURN(std::unique_ptr<Store> dst, Open(out));
  for (const std::string& in : inputs) {
    LLEMMA_ASSIGN_OR_RETURN(std::unique_ptr<Store> src, Open(in, /*create=*/false));
    // The input's sessions come along, renumbered, so every merged sample
    // still names the invocation (command line, start time) that made it.
    LLEMMA_ASSIGN_OR_RETURN(std::vector<StoredSession> sessions, src->Sessions());
    std::map<int64_t, int64_t> session_of;
    for (const StoredSession& ss : sessions) {
      Stmt q(dst->db_, "INSERT INTO sessions (started, command) VALUES (?, ?)");
      if (!q.ok()) return dst->Error("prepare");
      q.Bind(1, ss.started);
      q.Bind(2, ss.command);
      if (q.Step() != SQLITE_DONE) return dst->Error("copying a session");
      session_of[ss.id] = sqlite3_last_insert_rowid(dst->db_);
    }
    const auto use_session = [&](int64_t src_session) {
      const auto it = session_of.find(src_session);
      dst->session_ = it == session_of.end() ? 0 : it->second;
    };
    LLEMMA_ASSIGN_OR_RETURN(std::vector<RunSettings> tasks, src->Tasks());
    for (RunSettings s : tasks) {
      // Wall time adds up over the inputs (shards ran side by side or one after another).
      const double wall = s.wall_seconds;
      s.wall_seconds = 0;
      if (Status st = dst->BeginTask(s); !st.ok()) {
        return FailedPreconditionError(
            fmt::format("merge: {} and {} disagree: {}", in, out, st.message()));
      }
      LLEMMA_ASSIGN_OR_RETURN(std::vector<StoredProblem> problems, src->Problems(s.task));
      LLEMMA_RETURN_IF_ERROR(dst->AddProblems(s.task, problems));
      LLEMMA_ASSIGN_OR_RETURN(std::vector<StoredSample> samples, src->Samples(s.task));
      size_t i = 0;
      bool first = true;
      while (i < samples.size()) {
        size_t j = i;
        std::vector<GenSample> group;
        while (j < samples.size() && samples[j].problem_id == samples[i].problem_id &&
               samples[j].session == samples[i].session)
          group.push_back(samples[j++].sample);
        use_session(samples[i].session);
        LLEMMA_RETURN_IF_ERROR(
            dst->AddSamples(s.task, samples[i].problem_id, group, first ? wall : 0));
        first = false;
        i = j;
      }
      LLEMMA_ASSIGN_OR_RETURN(std::vector<StoredScore> scores, src->Scores(s.task));
      for (const StoredScore& sc : scores) {
        use_session(sc.session);
        LLEMMA_RETURN_IF_ERROR(dst->AddScore(s.task, sc, first ? wall : 0));
        first = false;
      }
    }
  }
  dst->session_ = 0;
  return Status::Ok();
}

// SHA-256 (FIPS 180-4).
std::string Sha256Hex(std::string_view data) {
  static constexpr uint32_t K[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
      0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
      0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
      0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
      0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
      0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
      0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
      0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::string msg(data);
  const uint64_t bits = static_cast<uint64_t>(data.size()) * 8;
  msg.push_back(static_cast<char>(0x80));
  while (msg.size() % 64 != 56) msg.push_back('\0');
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  const auto rotr = [](uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
  for (size_t off = 0; off < msg.size(); off += 64) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const unsigned char*>(msg.data() + off + 4 * i);
      w[i] = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    }
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      const uint32_t ch = (e & f) ^ (~e & g);
      const uint32_t t1 = hh + S1 + ch + K[i] + w[i];
      const uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      const uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
      const uint32_t t2 = S0 + maj;
      hh = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
  }
  std::string out;
  for (uint32_t v : h) out += fmt::format("{:08x}", v);
  return out;
}

}  // namespace llemma::eval
