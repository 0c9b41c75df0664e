#!/bin/sh
# Compiles every library source for 64-bit ARM (NEON, with the dot-product
# extension) with Debian's cross compiler, to keep the portable kernels
# building there. Needs g++-aarch64-linux-gnu and libfmt-dev (its headers are
# used header-only, so no arm64 libraries are needed).
set -eu
cd "$(dirname "$0")/.."
CXX=${CXX:-aarch64-linux-gnu-g++}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/inc"
ln -s /usr/include/fmt "$tmp/inc/fmt"
n=0
for f in llemma/core/*.cc llemma/backend/cpu/ops.cc llemma/backend/cpu/ref_ops.cc \
         llemma/backend/cpu/kernels_generic.cc llemma/backend/cpu/membw.cc llemma/backend/cpu/quants.cc \
         llemma/tokenizer/*.cc llemma/gguf/*.cc llemma/model/*.cc llemma/generate/*.cc; do
  case "$f" in *_test.cc) continue ;; esac
  "$CXX" -std=c++20 -O3 -march=armv8.2-a+fp16+dotprod -fopenmp-simd -DFMT_HEADER_ONLY -I. -isystem "$tmp/inc" \
    -Wall -Wextra -c "$f" -o "$tmp/out.o"
  n=$((n + 1))
done
echo "aarch64: $n sources compiled"
