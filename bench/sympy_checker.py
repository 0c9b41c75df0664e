#!/usr/bin/env python3
"""A SymPy answer checker of the PRM800K kind, as the speed and agreement
baseline for `llemma check` (see bench/README.md).

Per pair: normalize both answers (strip $, \\text{}, \\left/\\right, units,
thousands separators, \\dfrac), compare strings; else turn LaTeX into text
with pylatexenc, split tuples, parse each element with sympy_parser
(implicit multiplication) and test simplify(a - b) == 0.

Reads the same JSONL as `llemma check --pairs` (reference, candidate, label),
with answers already extracted (run `llemma check --pairs` first and feed its
reference_answer / candidate_answer columns, or use bare answers), and prints
checks per second and agreement with the labels.

Needs Debian's python3-sympy and python3-pylatexenc.
"""
import json
import multiprocessing
import re
import sys
import time

import sympy
from pylatexenc import latex2text
from sympy.parsing import sympy_parser

_L2T = latex2text.LatexNodes2Text()
_TRANSFORMS = sympy_parser.standard_transformations + (
    sympy_parser.implicit_multiplication_application, sympy_parser.convert_xor)


def normalize(s):
    s = s.strip().strip("$")
    s = re.sub(r"\\text\{\s*([^}]*)\}", r"\1", s)
    for a, b in (("\\left", ""), ("\\right", ""), ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"),
                 ("^\\circ", ""), ("^{\\circ}", ""), ("\\%", ""), ("\\$", ""), ("{,}", ""), ("\\!", "")):
        s = s.replace(a, b)
    s = re.sub(r"(\d),(\d\d\d)($|[^\d])", r"\1\2\3", s)
    s = re.sub(r"\s+(units|cm|inches|feet|meters|degrees|dollars|cents)$", "", s)
    return s.replace(" ", "")


def to_sympy(s):
    text = _L2T.latex_to_text(s)
    text = text.replace("√", "sqrt").replace("π", "pi").replace("·", "*").replace("×", "*").replace("^", "**")
    return sympy_parser.parse_expr(text, transformations=_TRANSFORMS, evaluate=True)


def equivalent(ref, cand):
    a, b = normalize(ref), normalize(cand)
    if a == b:
        return True
    pa, pb = a.strip("()[]"), b.strip("()[]")
    ea, eb = pa.split(","), pb.split(",")
    if len(ea) != len(eb) or (a[:1] != b[:1] and (a[:1] in "([" or b[:1] in "([")):
        return False
    for x, y in zip(ea, eb):
        try:
            if sympy.simplify(to_sympy(x) - to_sympy(y)) != 0:
                return False
        except Exception:  # parse errors and SymPy failures count as "not equal"
            return False
    return True


def check(pair):
    ref = pair.get("reference_answer", pair.get("reference"))
    cand = pair.get("candidate_answer", pair.get("candidate"))
    if ref is None or cand is None:
        return False
    return equivalent(ref, cand)


def main():
    path = sys.argv[1]
    procs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    pairs = [json.loads(l) for l in open(path) if l.strip() and '"summary"' not in l]
    t0 = time.time()
    if procs == 1:
        verdicts = [check(p) for p in pairs]
    else:
        with multiprocessing.Pool(procs) as pool:
            verdicts = pool.map(check, pairs, chunksize=16)
    dt = time.time() - t0
    labelled = [(v, p["label"]) for v, p in zip(verdicts, pairs) if "label" in p]
    agree = sum(v == l for v, l in labelled)
    print(json.dumps({"pairs": len(pairs), "processes": procs, "seconds": round(dt, 3),
                      "checks_per_second": round(len(pairs) / dt, 1),
                      "agree": agree, "labelled": len(labelled)}))


if __name__ == "__main__":
    main()
