#include "llemma/eval/openai_backend.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <queue>
#include <random>
#include <thread>
#include <utility>
#include <vector>

namespace llemma::eval {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One line, at most `max` bytes: for quoting a server's answer in an error.
std::string OneLine(std::string_view s, size_t max = 300) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// The message in an error body: OpenAI's {"error": {"message": ...}}, vLLM's
// and FastAPI's {"message"/"detail": ...}, else the body itself.
std::string ServerMessage(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    if (j.contains("error")) {
      const json& e = j["error"];
      if (e.is_string()) return OneLine(e.get<std::string>());
      if (e.is_object() && e.contains("message") && e["message"].is_string())
        return OneLine(e["message"].get<std::string>());
    }
    for (const char* key : {"message", "detail"}) {
      if (!j.contains(key)) continue;
      const json& m = j[key];
      return OneLine(m.is_string() ? m.get<std::string>()
                                   : m.dump(-1, ' ', false, json::error_handler_t::replace));
    }
  }
  return body.empty() ? "(empty body)" : OneLine(body);
}

// JSON text of a request; invalid UTF-8 in a prompt becomes U+FFFD instead of throwing.
std::string DumpJson(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A choice's "index" (0 when absent or not a number).
int64_t ChoiceIndex(const json& c) {
  return c.contains("index") && c["index"].is_number_integer() ? c["index"].get<int64_t>() : 0;
}

// Seconds from a Retry-After value: delay-seconds or an HTTP date.
std::optional<double> ParseRetryAfter(std::string_view v) {
  std::string s(v);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\n')) s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double secs = std::strtod(s.c_str(), &end);
  if (end != s.c_str() && *end == '\0') {
    if (!std::isfinite(secs) || secs < 0) return std::nullopt;
    return secs;
  }
  const time_t when = curl_getdate(s.c_str(), nullptr);
  if (when < 0) return std::nullopt;
  return std::max(0.0, std::difftime(when, std::time(nullptr)));
}

struct HttpResponse {
  CURLcode curl = CURLE_OK;
  std::string curl_error;
  long status = 0;
  std::string body;
  std::optional<double> retry_after_s;
  double seconds = 0.0;
};

// One HTTP call on its own easy handle (GET when there is no body).
// Owned by whoever drives it; not thread-safe.
class Transfer {
 public:
  Transfer(const OpenAIOptions& opts, const std::string& url, std::optional<std::string> body,
           const std::string& api_key)
      : body_(std::move(body)) {
    easy_ = curl_easy_init();
    LLEMMA_CHECK(easy_ != nullptr) << "curl_easy_init failed";
    errbuf_[0] = '\0';
    headers_ = curl_slist_append(headers_, "Accept: application/json");
    if (body_) headers_ = curl_slist_append(headers_, "Content-Type: application/json");
    headers_ = curl_slist_append(headers_, "Expect:");
    if (!api_key.empty())
      headers_ = curl_slist_append(headers_, ("Authorization: Bearer " + api_key).c_str());
    curl_easy_setopt(easy_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(opts.connect_timeout_s * 1000));
    curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS, static_cast<long>(opts.request_timeout_s * 1000));
    curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, errbuf_);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &Transfer::OnBody);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, &Transfer::OnHeader);
    curl_easy_setopt(easy_, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(easy_, CURLOPT_ACCEPT_ENCODING, "");
    if (body_) {
      curl_easy_setopt(easy_, CURLOPT_POST, 1L);
      curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, body_->data());
      curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body_->size()));
    }
    start_ = Clock::now();
  }
  ~Transfer() {
    curl_easy_cleanup(easy_);
    curl_slist_free_all(headers_);
  }
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  CURL* easy() { return easy_; }

  HttpResponse Finish(CURLcode code) {
    HttpResponse r;
    r.curl = code;
    r.curl_error = errbuf_[0] ? errbuf_ : curl_easy_strerror(code);
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &r.status);
    r.body = std::move(response_);
    r.retry_after_s = retry_after_;
    r.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    return r;
  }

 private:
  static size_t OnBody(char* data, size_t size, size_t n, void* self) {
    static_cast<Transfer*>(self)->response_.append(data, size * n);
    return size * n;
  }
  static size_t OnHeader(char* data, size_t size, size_t n, void* user) {
    auto* self = static_cast<Transfer*>(user);
    std::string_view line(data, size * n);
    if (line.starts_with("HTTP/")) self->retry_after_.reset();  // a new header block
    constexpr std::string_view kName = "retry-after:";
    if (line.size() > kName.size()) {
      std::string head(line.substr(0, kName.size()));
      std::transform(head.begin(), head.end(), head.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (head == kName) self->retry_after_ = ParseRetryAfter(line.substr(kName.size()));
    }
    return size * n;
  }

  CURL* easy_ = nullptr;
  curl_slist* headers_ = nullptr;
  std::optional<std::string> body_;
  std::string response_;
  std::optional<double> retry_after_;
  char errbuf_[CURL_ERROR_SIZE];
  Clock::time_point start_;
};

// What to do with a finished attempt.
struct Outcome {
  enum Kind { kOk, kRetry, kFatal } kind = kOk;
  std::string what;  // for kRetry / kFatal: one line describing the failure
};

Outcome Classify(const HttpResponse& r) {
  if (r.curl != CURLE_OK) {
    const bool fatal = r.curl == CURLE_URL_MALFORMAT || r.curl == CURLE_UNSUPPORTED_PROTOCOL ||
                       r.curl == CURLE_PEER_FAILED_VERIFICATION ||
                       r.curl == CURLE_SSL_CACERT_BADFILE || r.curl == CURLE_OUT_OF_MEMORY;
    return {fatal ? Outcome::kFatal : Outcome::kRetry, OneLine(r.curl_error)};
  }
  if (r.status >= 200 && r.status < 300) return {Outcome::kOk, ""};
  const std::string what = fmt::format("HTTP {}: {}", r.status, ServerMessage(r.body));
  if (r.status == 408 || r.status == 429 || r.status >= 500) return {Outcome::kRetry, what};
  return {Outcome::kFatal, what};
}

// Jittered exponential backoff: retry r (0-based) waits base * 2^r, capped,
// times a uniform factor in [0.5, 1); a server's Retry-After wins.
class Backoff {
 public:
  explicit Backoff(const OpenAIOptions& o) : o_(o), rng_(std::random_device{}()) {}
  double Delay(int retry, const std::optional<double>& retry_after) {
    if (retry_after) return std::min(*retry_after, o_.retry_after_max_s);
    const double d =
        std::min(o_.backoff_max_s, o_.backoff_base_s * std::ldexp(1.0, std::min(retry, 30)));
    return d * std::uniform_real_distribution<double>(0.5, 1.0)(rng_);
  }

 private:
  const OpenAIOptions& o_;
  std::mt19937_64 rng_;
};

// A blocking call with the same retries as Run().
StatusOr<HttpResponse> Perform(const OpenAIOptions& opts, const std::string& api_key,
                               const std::string& url, const std::optional<std::string>& body) {
  Backoff backoff(opts);
  for (int attempt = 0;; ++attempt) {
    Transfer t(opts, url, body, api_key);
    HttpResponse r = t.Finish(curl_easy_perform(t.easy()));
    Outcome o = Classify(r);
    if (o.kind == Outcome::kOk) return r;
    if (o.kind == Outcome::kFatal)
      return Status(r.curl == CURLE_OK ? StatusCode::kInvalidArgument : StatusCode::kUnavailable,
                    fmt::format("{}: {}", url, o.what));
    if (attempt >= opts.max_retries)
      return UnavailableError(
          fmt::format("{}: gave up after {} attempts: {}", url, attempt + 1, o.what));
    std::this_thread::sleep_for(
        std::chrono::duration<double>(backoff.Delay(attempt, r.retry_after_s)));
  }
}

std::optional<std::string> CutAtStop(std::string& text, const std::vector<std::string>& stops) {
  size_t best = std::string::npos;
  const std::string* which = nullptr;
  for (const std::string& s : stops) {
    if (s.empty()) continue;
    const size_t at = text.find(s);
    if (at < best) best = at, which = &s;
  }
  if (which == nullptr) return std::nullopt;
  text.resize(best);
  return *which;
}

// Unicode code points in UTF-8 text (OpenAI's text_offset counts characters).
int64_t CodePoints(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Per-request state while Run() works through it.
struct Job {
  const GenRequest* req = nullptr;
  std::vector<GenSample> got;
  int failures = 0;  // failed attempts of the current call
  std::string last_error;
};

}  // namespace

StatusOr<std::unique_ptr<OpenAIBackend>> OpenAIBackend::Create(const OpenAIOptions& opts) {
  GlobalInit();
  const std::string& u = opts.base_url;
  if (!u.starts_with("http://") && !u.starts_with("https://"))
    return InvalidArgumentError(
        fmt::format("OpenAI endpoint '{}': give a URL starting with http:// or https:// (e.g. "
                    "http://host:8000/v1)",
                    u));
  if (opts.concurrency < 1)
    return InvalidArgumentError(
        fmt::format("OpenAI concurrency ({}) must be at least 1", opts.concurrency));
  if (opts.max_retries < 0)
    return InvalidArgumentError(
        fmt::format("OpenAI max_retries ({}) must be >= 0", opts.max_retries));
  if (!(opts.connect_timeout_s > 0) || !(opts.request_timeout_s > 0) ||
      !(opts.backoff_base_s >= 0) || !(opts.backoff_max_s >= 0) || !(opts.retry_after_max_s >= 0))
    return InvalidArgumentError("OpenAI timeouts must be positive and backoff delays non-negative");

  std::unique_ptr<OpenAIBackend> b(new OpenAIBackend(opts));
  std::string base = u;
  while (base.ends_with("/")) base.pop_back();
  if (base.ends_with("/chat/completions"))
    return InvalidArgumentError(
        fmt::format("OpenAI endpoint '{}': chat completions are not used; give the /v1 base URL "
                    "(prompts are sent raw to "
                    "/v1/completions)",
                    u));
  if (base.ends_with("/completions")) base.resize(base.size() - std::strlen("/completions"));
  const size_t host_start = base.find("://") + 3;
  if (base.find('/', host_start) == std::string::npos) base += "/v1";
  if (base.size() <= host_start || base[host_start] == '/')
    return InvalidArgumentError(fmt::format("OpenAI endpoint '{}': no host name", u));
  b->base_url_ = base;
  b->completions_url_ = base + "/completions";
  if (b->opts_.api_key.empty()) {
    if (const char* env = std::getenv("OPENAI_API_KEY")) b->opts_.api_key = env;
  }

  b->model_ = opts.model;
  if (b->model_.empty()) {
    const std::string url = base + "/models";
    StatusOr<HttpResponse> r = Perform(b->opts_, b->opts_.api_key, url, std::nullopt);
    if (!r.ok())
      return Status(
          r.status().code(),
          fmt::format("could not list the served models ({}); pass the model name explicitly",
                      r.status().message()));
    json j = json::parse(r->body, nullptr, false);
    if (!j.is_object() || !j.contains("data") || !j["data"].is_array() || j["data"].empty() ||
        !j["data"][0].is_object() || !j["data"][0].contains("id") ||
        !j["data"][0]["id"].is_string())
      return DataLossError(
          fmt::format("{}: expected {{\"data\": [{{\"id\": ...}}]}}, got: {}; pass the model "
                      "name explicitly",
                      url, OneLine(r->body, 200)));
    b->model_ = j["data"][0]["id"].get<std::string>();
  }
  return b;
}

OpenAIBackend::~OpenAIBackend() = default;

std::string OpenAIBackend::Describe() const {
  return fmt::format("openai {} model={}", base_url_, model_);
}

Status OpenAIBackend::Run(std::span<const GenRequest> requests, const OnRequestDone& on_done) {
  for (const GenRequest& r : requests) {
    const SamplingSpec& s = r.sampling;
    if (s.n < 0 || s.max_tokens < 0 || !(s.temperature >= 0) || !(s.top_p > 0 && s.top_p <= 1) ||
        s.first_sample < 0)
      return InvalidArgumentError(fmt::format(
          "request '{}': sampling needs n >= 0, max_tokens >= 0, temperature >= 0, 0 < top_p <= 1, "
          "first_sample >= 0 (got n={}, max_tokens={}, temperature={}, top_p={}, first_sample={})",
          r.id, s.n, s.max_tokens, s.temperature, s.top_p, s.first_sample));
  }

  std::vector<Job> jobs(requests.size());
  std::deque<size_t> ready;
  for (size_t i = 0; i < requests.size(); ++i) {
    jobs[i].req = &requests[i];
    if (requests[i].sampling.n == 0) {
      LLEMMA_RETURN_IF_ERROR(on_done(requests[i], {}));
      continue;
    }
    ready.push_back(i);
  }
  using Delayed = std::pair<Clock::time_point, size_t>;
  std::priority_queue<Delayed, std::vector<Delayed>, std::greater<>> delayed;

  struct Active {
    size_t job;
    int n_asked;
    std::unique_ptr<Transfer> transfer;
  };
  std::map<CURL*, Active> active;
  CURLM* multi = curl_multi_init();
  LLEMMA_CHECK(multi != nullptr) << "curl_multi_init failed";
  // Whatever way Run returns, in-flight transfers are dropped.
  struct MultiGuard {
    CURLM* multi;
    std::map<CURL*, Active>& active;
    ~MultiGuard() {
      for (auto& [easy, a] : active) curl_multi_remove_handle(multi, easy);
      active.clear();
      curl_multi_cleanup(multi);
    }
  } guard{multi, active};
  Backoff backoff(opts_);

  auto start = [&](size_t ji) {
    Job& job = jobs[ji];
    const SamplingSpec& s = job.req->sampling;
    const int next = s.first_sample + static_cast<int>(job.got.size());
    const int missing = s.n - static_cast<int>(job.got.size());
    // Greedy samples are all the same text: one is asked for and copied
    // (vLLM also refuses n > 1 with temperature 0).
    const int n = s.temperature == 0 ? 1 : missing;
    json body = {{"model", model_},
                 {"prompt", job.req->prompt},
                 {"n", n},
                 {"max_tokens", s.max_tokens},
                 {"temperature", s.temperature},
                 {"top_p", s.top_p}};
    // Kept within int64 so servers that parse the seed as a signed integer accept it.
    if (opts_.send_seed)
      body["seed"] = (s.seed + static_cast<uint64_t>(next)) & 0x7fffffffffffffffull;
    if (!s.stop.empty()) body["stop"] = s.stop;
    auto t = std::make_unique<Transfer>(opts_, completions_url_, DumpJson(body), opts_.api_key);
    CURL* easy = t->easy();
    active.emplace(easy, Active{ji, n, std::move(t)});
    curl_multi_add_handle(multi, easy);
  };

  auto fail = [&](const Job& job, const std::string& what) {
    return UnavailableError(
        fmt::format("request '{}' to {}: {}", job.req->id, completions_url_, what));
  };

  // Handles a finished attempt; a non-OK status ends the run.
  auto finish = [&](Active a, HttpResponse r) -> Status {
    Job& job = jobs[a.job];
    const SamplingSpec& s = job.req->sampling;
    Outcome o = Classify(r);
    std::vector<GenSample> fresh;
    if (o.kind == Outcome::kOk) {
      json j = json::parse(r.body, nullptr, false);
      if (!j.is_object() || !j.contains("choices") || !j["choices"].is_array())
        return DataLossError(
            fmt::format("request '{}' to {}: the answer is not a completions response: {}",
                        job.req->id, completions_url_, OneLine(r.body, 200)));
      std::vector<const json*> choices;
      for (const json& c : j["choices"]) {
        if (!c.is_object() || !c.contains("text") || !c["text"].is_string())
          return DataLossError(fmt::format("request '{}' to {}: a choice has no \"text\": {}",
                                           job.req->id, completions_url_,
                                           OneLine(DumpJson(c), 200)));
        choices.push_back(&c);
      }
      std::stable_sort(choices.begin(), choices.end(), [](const json* x, const json* y) {
        return ChoiceIndex(*x) < ChoiceIndex(*y);
      });
      int64_t prompt_tokens = 0, completion_tokens = 0;
      if (j.contains("usage") && j["usage"].is_object()) {
        const json& u = j["usage"];
        if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_integer())
          prompt_tokens = u["prompt_tokens"].get<int64_t>();
        if (u.contains("completion_tokens") && u["completion_tokens"].is_number_integer())
          completion_tokens = u["completion_tokens"].get<int64_t>();
      }
      const int64_t n_choices = static_cast<int64_t>(choices.size());
      const int take = std::min<int>(a.n_asked, static_cast<int>(choices.size()));
      const int copies =
          s.temperature == 0 && take > 0 ? s.n - static_cast<int>(job.got.size()) : 1;
      for (int i = 0; i < take * copies; ++i) {
        const json& c = *choices[i / copies];
        GenSample g;
        g.index = s.first_sample + static_cast<int>(job.got.size()) + i;
        g.text = c["text"].get<std::string>();
        const std::string fr = c.contains("finish_reason") && c["finish_reason"].is_string()
                                   ? c["finish_reason"].get<std::string>()
                                   : "";
        if (fr == "length") {
          g.finish_reason = "length";
        } else if (fr == "eos") {
          g.finish_reason = "eos";
        } else if (fr == "stop" && c.contains("stop_reason")) {
          // vLLM: null = the end-of-sequence token, else the stop string or token that matched.
          g.finish_reason = c["stop_reason"].is_null() ? "eos" : "stop";
          // A stop string (not a stop token id) is what the tool loop pauses at.
          if (c["stop_reason"].is_string()) g.stop_matched = c["stop_reason"].get<std::string>();
        } else {
          g.finish_reason = s.stop.empty() ? "eos" : "stop";
        }
        if (std::optional<std::string> cut = CutAtStop(g.text, s.stop)) {
          g.finish_reason = "stop";
          g.stop_matched = std::move(*cut);
        }
        g.n_prompt_tokens = prompt_tokens;
        // usage counts all choices together: each gets its share.
        const int64_t ci = i / copies;
        g.n_tokens = n_choices > 0
                         ? completion_tokens / n_choices + (ci < completion_tokens % n_choices)
                         : 0;
        g.seconds = r.seconds / std::max<int64_t>(1, n_choices * copies);
        fresh.push_back(std::move(g));
      }
      if (fresh.empty()) o = {Outcome::kRetry, "the server returned no choices"};
    }
    if (o.kind == Outcome::kFatal) return fail(job, o.what);
    if (o.kind == Outcome::kRetry) {
      if (job.failures >= opts_.max_retries)
        return fail(job, fmt::format("gave up after {} attempts: {}", job.failures + 1, o.what));
      const double d = backoff.Delay(job.failures, r.retry_after_s);
      ++job.failures;
      delayed.emplace(Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(d)),
                      a.job);
      return Status::Ok();
    }
    job.failures = 0;
    for (GenSample& g : fresh) job.got.push_back(std::move(g));
    if (static_cast<int>(job.got.size()) < s.n) {
      ready.push_front(a.job);  // the rest, before new requests
      return Status::Ok();
    }
    std::vector<GenSample> out = std::move(job.got);
    job.got.clear();
    return on_done(*job.req, std::move(out));
  };

  while (!ready.empty() || !delayed.empty() || !active.empty()) {
    const auto now = Clock::now();
    while (!delayed.empty() && delayed.top().first <= now) {
      ready.push_front(delayed.top().second);
      delayed.pop();
    }
    while (static_cast<int>(active.size()) < opts_.concurrency && !ready.empty()) {
      start(ready.front());
      ready.pop_front();
    }
    int running = 0;
    const CURLMcode mc = curl_multi_perform(multi, &running);
    if (mc != CURLM_OK) return InternalError(fmt::format("libcurl: {}", curl_multi_strerror(mc)));
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      const CURLcode code = msg->data.result;
      auto it = active.find(easy);
      LLEMMA_CHECK(it != active.end());
      curl_multi_remove_handle(multi, easy);
      Active a = std::move(it->second);
      active.erase(it);
      HttpResponse r = a.transfer->Finish(code);
      a.transfer.reset();
      const std::string id = jobs[a.job].req->id;
      Status st;
      try {
        st = finish(std::move(a), std::move(r));
      } catch (const json::exception& e) {  // a field of an unexpected type
        st = DataLossError(fmt::format("request '{}' to {}: unexpected answer: {}", id,
                                       completions_url_, e.what()));
      }
      LLEMMA_RETURN_IF_ERROR(st);
    }
    if (active.empty() && ready.empty() && delayed.empty()) break;
    if (!ready.empty() && static_cast<int>(active.size()) < opts_.concurrency) continue;
    int timeout_ms = 200;
    if (!delayed.empty()) {
      const auto wait =
          std::chrono::duration_cast<std::chrono::milliseconds>(delayed.top().first - Clock::now());
      timeout_ms = static_cast<int>(std::clamp<int64_t>(wait.count() + 1, 0, timeout_ms));
    }
    curl_multi_poll(multi, nullptr, 0, timeout_ms, nullptr);
  }
  return Status::Ok();
}

StatusOr<LogLikelihood> OpenAIBackend::Score(std::string_view context,
                                             std::string_view continuation) {
  if (continuation.empty()) return LogLikelihood{};
  json body = {{"model", model_}, {"prompt", std::string(context) + std::string(continuation)},
               {"max_tokens", 0}, {"echo", true},
               {"logprobs", 1},   {"temperature", 0.0}};
  const std::string hint =
      "scoring sends echo=true, logprobs=1, max_tokens=0 to /v1/completions (vLLM supports it; "
      "the llama.cpp server does not)";
  StatusOr<HttpResponse> r = Perform(opts_, opts_.api_key, completions_url_, DumpJson(body));
  if (!r.ok() && r.status().code() == StatusCode::kInvalidArgument) {
    // Servers that want at least one new token: the echoed prompt comes back
    // the same, and the generated token lies past the continuation's end.
    body["max_tokens"] = 1;
    StatusOr<HttpResponse> again = Perform(opts_, opts_.api_key, completions_url_, DumpJson(body));
    if (again.ok()) r = std::move(again);
  }
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kInvalidArgument)
      return UnimplementedError(fmt::format("{}; {}", r.status().message(), hint));
    return r.status();
  }
  json j = json::parse(r->body, nullptr, false);
  const json* lp = nullptr;
  if (j.is_object() && j.contains("choices") && j["choices"].is_array() && !j["choices"].empty() &&
      j["choices"][0].is_object() && j["choices"][0].contains("logprobs") &&
      j["choices"][0]["logprobs"].is_object())
    lp = &j["choices"][0]["logprobs"];
  if (lp == nullptr || !lp->contains("token_logprobs") || !(*lp)["token_logprobs"].is_array() ||
      !lp->contains("text_offset") || !(*lp)["text_offset"].is_array() ||
      (*lp)["token_logprobs"].size() != (*lp)["text_offset"].size())
    return UnimplementedError(
        fmt::format("{}: the answer has no prompt log-probabilities with text offsets; {}",
                    completions_url_, hint));
  const json& logprobs = (*lp)["token_logprobs"];
  const json& offsets = (*lp)["text_offset"];
  const int64_t boundary = CodePoints(context);
  const int64_t end = boundary + CodePoints(continuation);  // anything past it was generated
  LogLikelihood out;
  for (size_t i = 0; i < offsets.size(); ++i) {
    if (!offsets[i].is_number_integer()) continue;
    const int64_t at = offsets[i].get<int64_t>();
    if (at < boundary || at >= end) continue;
    if (!logprobs[i].is_number())
      return DataLossError(
          fmt::format("{}: continuation token {} has no log-probability", completions_url_, i));
    out.logprob += logprobs[i].get<double>();
    ++out.n_tokens;
  }
  if (out.n_tokens == 0)
    return DataLossError(
        fmt::format("{}: no token of the echoed prompt starts at or after the context's end "
                    "(character {}); the server "
                    "tokenized context and continuation together",
                    completions_url_, boundary));
  return out;
}

}  // namespace llemma::eval
