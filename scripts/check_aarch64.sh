#!/bin/sh
# Compiles every library source for 64-bit ARM (NEON, with the dot-product
# extension) with Debian's cross compiler, to keep the portable kernels
# building there. Needs g++-aarch64-linux-gnu and libfmt-dev (its headers are
# used header-only, so no arm64 libraries are needed).
# With --run-tests, also links the core and CPU-backend tests statically
# (googletest from libgtest-dev's sources) and runs them under qemu-user
# (package qemu-user): the generic kernels' results on a real ARM64 ABI.
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
[ "${1:-}" = "--run-tests" ] || exit 0
G=/usr/src/googletest/googletest
objs=""
for f in llemma/core/status.cc llemma/core/check.cc llemma/core/dtype.cc llemma/core/mapped_file.cc \
         llemma/core/thread_pool.cc llemma/core/timer.cc llemma/backend/cpu/ops.cc llemma/backend/cpu/ref_ops.cc \
         llemma/backend/cpu/kernels_generic.cc llemma/backend/cpu/membw.cc llemma/backend/cpu/quants.cc \
         llemma/backend/cpu/ops_test.cc llemma/backend/cpu/kernels_test.cc llemma/backend/cpu/quants_test.cc; do
  o="$tmp/$(echo "$f" | tr / _).o"
  "$CXX" -std=c++20 -O2 -march=armv8.2-a+fp16+dotprod -fopenmp-simd -DFMT_HEADER_ONLY -I. -isystem "$tmp/inc" \
    -isystem "$G/include" -c "$f" -o "$o"
  objs="$objs $o"
done
"$CXX" -std=c++17 -O1 -isystem "$G/include" -I"$G" -c "$G/src/gtest-all.cc" -o "$tmp/gtest-all.o"
"$CXX" -std=c++17 -O1 -isystem "$G/include" -I"$G" -c "$G/src/gtest_main.cc" -o "$tmp/gtest_main.o"
# shellcheck disable=SC2086
"$CXX" -static -o "$tmp/backend_cpu_test" $objs "$tmp/gtest-all.o" "$tmp/gtest_main.o" -lpthread 2>/dev/null
qemu-aarch64 -L /usr/aarch64-linux-gnu "$tmp/backend_cpu_test"
