#!/usr/bin/env bash
# Load-time and peak-memory benchmark for a LLEMMA-7B-shaped float32 sharded
# checkpoint converted to bf16 while streaming (issue: peak RSS within ~10% of
# the converted model). Needs ~27 GB of free disk and ~15 GB of RAM.
#
#   bench/load_bench.sh [DIR] [DTYPE]    (default DIR=/tmp/llemma7b-f32, DTYPE=bf16)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/llemma7b-f32}
dtype=${2:-bf16}
if [ ! -f "$dir/model.safetensors.index.json" ]; then
  /usr/bin/python3 bench/make_shaped_checkpoint.py --out "$dir" --shape llemma-7b --dtype F32 \
    --shards 3 --tokenizer tests/testdata/tokenizer/llama2-tokenizer.model
fi
# Drop the file pages from the page cache when allowed, so the load reads from disk.
sync; (echo 1 > /proc/sys/vm/drop_caches) 2>/dev/null || true
log=$(mktemp)
/usr/bin/time -v ./build/bin/llemma generate --model "$dir" --dtype "$dtype" --prompt "1 + 1 =" \
  --max-tokens 1 --ctx 16 >/dev/null 2>"$log" || { cat "$log"; exit 1; }
grep -E "llemma: loaded" "$log"
rss_kb=$(grep "Maximum resident set size" "$log" | awk '{print $NF}')
weights_mib=$(grep -oP '[0-9]+(?= MiB weights)' "$log")
echo "peak RSS: $((rss_kb / 1024)) MiB; converted weights: ${weights_mib} MiB;" \
  "overhead: $(awk -v r="$rss_kb" -v w="$weights_mib" 'BEGIN{printf "%.1f%%", (r/1024/w - 1)*100}')"
grep -E "Elapsed \(wall clock\)" "$log"
rm -f "$log"
