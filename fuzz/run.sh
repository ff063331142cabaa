#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each, two at a time, from the seeds of seed.py,
# with AddressSanitizer; prints executions and coverage per target. A crash leaves its input under
# fuzz/artifacts/<target>/: fix it, then keep the input in fixtures/fuzz/<target>/ (tests/fuzzed.rs).
#   bash fuzz/run.sh [SECONDS] [TARGET …]        (default 600 s, every target)
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(image_pages pdf_pages manifest profile case_import separator upload_form)
python3 seed.py >/dev/null
cargo +nightly fuzz build -O
mkdir -p logs
run() {
  local t="$1"
  mkdir -p "corpus/$t" "artifacts/$t"
  cargo +nightly fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 >"logs/$t.log" 2>&1 || echo "$t: stopped early (see fuzz/logs/$t.log)"
}
i=0
for t in "${targets[@]}"; do
  run "$t" &
  i=$((i + 1))
  if [ $((i % 2)) -eq 0 ]; then wait; fi
done
wait
printf '%-12s %12s %8s %8s %s\n' target executions cov ft crashes
for t in "${targets[@]}"; do
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || echo ?)
  last=$(grep -E '^#[0-9]+' "logs/$t.log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo ?)
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo ?)
  crashes=$(find "artifacts/$t" -type f | wc -l)
  printf '%-12s %12s %8s %8s %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$crashes"
done
