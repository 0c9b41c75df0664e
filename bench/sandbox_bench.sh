#!/bin/sh
# Warm sandbox pool vs cold python3 start, runs per second of a trivial SymPy program.
# Usage: bench/sandbox_bench.sh [build-dir]
exec "${1:-build}/bin/llemma" sandbox bench -n 200 --cold-runs 10
