#!/usr/bin/python3
"""A small OpenAI-compatible completions server for the OpenAIBackend tests.

    openai_server.py --log LOG.jsonl [--model NAME] [--api-key KEY]

Binds 127.0.0.1 on an ephemeral port and prints the port on stdout. Serves
GET /v1/models and POST /v1/completions and appends one JSON line per request
to LOG (path, parsed body, Authorization header, arrival time, requests in
flight at arrival, status sent).

Completions are deterministic: choice i of a request with seed s is the
sample for seed s + i, a function of (prompt, s + i) only, so a test can tell
which seed each sample was drawn with. n, max_tokens and stop are honoured
the way vLLM honours them (the stop string is cut and reported as
stop_reason; the end of a sample is reported as stop with stop_reason null).
Markers in the prompt script failures and special answers:

  [FAIL503:N]   the first N requests with this prompt get 503
  [ALWAYS503]   every request gets 503
  [RATE429]     the first request with this prompt gets 429, Retry-After: 1
  [BAD400]      400 with an OpenAI-style error body
  [DROP]        the first request with this prompt: connection closed, no answer
  [SLOW]        answer after 0.25 s
  [FEWER:K]     at most K choices per answer
  [STOPTEXT]    the sample is a fixed sentence that contains stop strings
  [IGNORESTOP]  stop strings are not applied
  [NOECHO]      echo/logprobs requests get no logprobs (like servers without them)
  [MAXTOK1]     echo with max_tokens 0 is refused (400); with max_tokens >= 1 the
                echoed prompt is followed by that many generated " gen" tokens

With echo and max_tokens 0 the prompt is split into tokens at whitespace
(each token a run of whitespace followed by non-whitespace) and token k > 0
gets log-probability -0.1 * (characters of the token without whitespace).
"""

import argparse
import hashlib
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"in_flight": 0, "seen": {}}
ARGS = None


def sample_tokens(prompt, seed):
    if "[STOPTEXT]" in prompt:
        return re.findall(r"\s*\S+", " The answer is 4. I hope it is correct. Problem: next one")
    h = hashlib.sha256(f"{prompt}\x00{seed}".encode()).hexdigest()
    natural = 8 + int(h[:2], 16) % 8
    return [" " + hashlib.sha256(f"{prompt}\x00{seed}\x00{k}".encode()).hexdigest()[:5]
            for k in range(natural)]


def complete(prompt, seed, max_tokens, stops):
    tokens = sample_tokens(prompt, seed)
    finish, stop_reason = "stop", None
    if max_tokens < len(tokens):
        tokens, finish = tokens[:max_tokens], "length"
    text = "".join(tokens)
    if stops and "[IGNORESTOP]" not in prompt:
        hits = [(text.find(s), s) for s in stops if s and s in text]
        if hits:
            at, s = min(hits)
            text, finish, stop_reason = text[:at], "stop", s
    return {"text": text, "finish_reason": finish, "stop_reason": stop_reason,
            "n_tokens": len(re.findall(r"\s*\S+", text)) or 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def log_request_line(self, body, status, in_flight):
        entry = {"method": self.command, "path": self.path, "body": body,
                 "auth": self.headers.get("Authorization"), "t": time.time(),
                 "in_flight": in_flight, "status": status}
        with LOCK:
            with open(ARGS.log, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def send_json(self, status, obj, headers=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        return ARGS.api_key is None or self.headers.get("Authorization") == f"Bearer {ARGS.api_key}"

    def do_GET(self):
        if not self.authorized():
            self.log_request_line(None, 401, 0)
            return self.send_json(401, {"error": {"message": "Invalid API key"}})
        if self.path.rstrip("/") != "/v1/models":
            self.log_request_line(None, 404, 0)
            return self.send_json(404, {"detail": "Not Found"})
        self.log_request_line(None, 200, 0)
        self.send_json(200, {"object": "list", "data": [{"id": ARGS.model, "object": "model"},
                                                         {"id": "other-model", "object": "model"}]})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        with LOCK:
            STATE["in_flight"] += 1
            in_flight = STATE["in_flight"]
        try:
            self.handle_completion(raw, in_flight)
        finally:
            with LOCK:
                STATE["in_flight"] -= 1

    def handle_completion(self, raw, in_flight):
        try:
            body = json.loads(raw)
        except ValueError:
            self.log_request_line(None, 400, in_flight)
            return self.send_json(400, {"error": {"message": "body is not JSON"}})
        prompt = body.get("prompt", "")
        with LOCK:
            seen = STATE["seen"].get(prompt, 0)
            STATE["seen"][prompt] = seen + 1

        def fail(status, obj, headers=()):
            self.log_request_line(body, status, in_flight)
            self.send_json(status, obj, headers)

        if not self.authorized():
            return fail(401, {"error": {"message": "Invalid API key"}})
        if self.path != "/v1/completions":
            return fail(404, {"detail": "Not Found"})
        if body.get("model") != ARGS.model:
            return fail(404, {"error": {"message": f"The model `{body.get('model')}` does not exist."}})
        m = re.search(r"\[FAIL503:(\d+)\]", prompt)
        if m and seen < int(m.group(1)):
            return fail(503, {"error": {"message": "Service temporarily unavailable"}})
        if "[ALWAYS503]" in prompt:
            return fail(503, {"message": "overloaded"})
        if "[RATE429]" in prompt and seen == 0:
            return fail(429, {"error": {"message": "Too many requests"}}, [("Retry-After", "1")])
        if "[BAD400]" in prompt:
            return fail(400, {"error": {"message": "This model's maximum context length is 4096 tokens",
                                        "type": "invalid_request_error"}})
        if "[DROP]" in prompt and seen == 0:
            self.log_request_line(body, 0, in_flight)
            self.close_connection = True
            return
        if "[SLOW]" in prompt:
            time.sleep(0.25)

        n = int(body.get("n", 1))
        max_tokens = int(body.get("max_tokens", 16))
        stops = body.get("stop") or []
        if isinstance(stops, str):
            stops = [stops]
        seed = int(body.get("seed", 0))
        m = re.search(r"\[FEWER:(\d+)\]", prompt)
        if m:
            n = min(n, int(m.group(1)))

        if body.get("echo") and "[MAXTOK1]" in prompt and max_tokens == 0:
            return fail(400, {"error": {"message": "max_tokens must be at least 1, got 0."}})
        if body.get("echo") and (max_tokens == 0 or "[MAXTOK1]" in prompt):
            tokens = re.findall(r"\s*\S+", prompt)
            if max_tokens > 0:  # echo, then the generated tokens
                tokens += [" gen"] * max_tokens
            logprobs = None
            if "[NOECHO]" not in prompt:
                offsets, at = [], 0
                for t in tokens:
                    offsets.append(at)
                    at += len(t)
                logprobs = {"tokens": tokens,
                            "token_logprobs": [None] + [-0.1 * len(t.strip()) for t in tokens[1:]],
                            "text_offset": offsets, "top_logprobs": None}
            choice = {"index": 0, "text": "".join(tokens), "finish_reason": "length", "logprobs": logprobs}
            usage = {"prompt_tokens": len(tokens), "completion_tokens": 0, "total_tokens": len(tokens)}
            self.log_request_line(body, 200, in_flight)
            return self.send_json(200, {"object": "text_completion", "model": ARGS.model,
                                        "choices": [choice], "usage": usage})

        choices, generated = [], 0
        for i in range(n):
            c = complete(prompt, seed + i, max_tokens, stops)
            generated += c.pop("n_tokens")
            c["index"] = i
            c["logprobs"] = None
            choices.append(c)
        prompt_tokens = len(re.findall(r"\s*\S+", prompt))
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": generated,
                 "total_tokens": prompt_tokens + generated}
        self.log_request_line(body, 200, in_flight)
        self.send_json(200, {"id": "cmpl-test", "object": "text_completion", "model": ARGS.model,
                             "choices": choices, "usage": usage})


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--log", required=True)
    p.add_argument("--model", default="test-model")
    p.add_argument("--api-key", default=None)
    ARGS = p.parse_args()
    ThreadingHTTPServer.request_queue_size = 64
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
