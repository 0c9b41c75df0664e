#!/usr/bin/python3
"""The OpenAI-compatible test server (tests/testdata/openai_server.py) with
scripted completions, for tests whose samples must be real answers or
programs.

    scripted_openai_server.py --replies REPLIES.json --log LOG.jsonl [--model NAME]

REPLIES.json is a list of {"match": TEXT, "replies": [COMPLETION, ...]}. A
sample asked for with a prompt that contains TEXT is the next reply of that
entry, in turn (choice i of a request is the reply after choice i - 1), cut
at the request's stop strings and max_tokens the way the server cuts its own
samples. Other prompts get the server's deterministic samples; everything
else (logging, markers, errors) is the server's.
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                "tests", "testdata"))
import openai_server as base  # noqa: E402

REPLIES = []
NEXT = {}
own_complete = base.complete


def scripted_complete(prompt, seed, max_tokens, stops):
    for n, entry in enumerate(REPLIES):
        if entry["match"] in prompt:
            with base.LOCK:
                turn = NEXT.get(n, 0)
                NEXT[n] = turn + 1
            text = entry["replies"][turn % len(entry["replies"])]
            tokens = re.findall(r"\s*\S+", text)
            finish, stop_reason = "stop", None
            if max_tokens < len(tokens):
                text, finish = "".join(tokens[:max_tokens]), "length"
            hits = [(text.find(s), s) for s in stops if s and s in text]
            if hits:
                at, s = min(hits)
                text, finish, stop_reason = text[:at], "stop", s
            return {"text": text, "finish_reason": finish, "stop_reason": stop_reason,
                    "n_tokens": len(re.findall(r"\s*\S+", text))}
    return own_complete(prompt, seed, max_tokens, stops)


def main():
    args = sys.argv[1:]
    if "--replies" not in args:
        sys.exit("scripted_openai_server.py: --replies FILE is required")
    at = args.index("--replies")
    with open(args[at + 1]) as f:
        REPLIES.extend(json.load(f))
    sys.argv = [sys.argv[0]] + args[:at] + args[at + 2:]
    base.complete = scripted_complete
    return base.main()


if __name__ == "__main__":
    sys.exit(main())
