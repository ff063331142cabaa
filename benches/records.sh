#!/usr/bin/env bash
# The case records at scale, on both backends: importing the one-stop system's export of N cases,
# importing it again (nothing changes), the 766 report over a quarter, and `sohoa verify` over the
# stored files of an ingest run — wall time and peak RSS of each.
#
#   benches/records.sh [CASES]                (default 100000)
#
# PostgreSQL: SOHOA_BENCH_PG (default postgres://postgres@127.0.0.1:5432/test; a database
# sohoa_bench is created there and dropped afterwards). Work files go to ${BENCH_DIR:-/tmp/sohoa-bench}.
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-100000}
work=${BENCH_DIR:-/tmp/sohoa-bench}/records
pg=${SOHOA_BENCH_PG:-postgres://postgres@127.0.0.1:5432/test}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sohoa/target}"
cargo build --release --locked -q
bin="$CARGO_TARGET_DIR/release/sohoa"
mkdir -p "$work"

csv="$work/cases-$cases.csv"
python3 - "$csv" "$cases" <<'PY'
import sys, datetime
path, n = sys.argv[1], int(sys.argv[2])
start = datetime.date(2026, 7, 1)
with open(path, "w", encoding="utf-8") as f:
    f.write("code,procedure,unit,received,status,resolved,applicant_name,applicant_id\n")
    for i in range(n):
        unit = "H15.50.05.%02d" % (10 + i % 7)
        day = start + datetime.timedelta(days=(i * 90) // n)
        code = "%s-%s-%06d" % (unit, day.strftime("%y%m%d"), i)
        proc = ["1.001193", "1.004227", "2.000908"][i % 3]
        resolved = day + datetime.timedelta(days=15)
        status, res = ("resolved", resolved.isoformat()) if i % 4 != 3 else ("processing", "")
        f.write(f"{code},{proc},{unit},{day.isoformat()},{status},{res},Nguyễn Văn {i},079{i:09d}\n")
PY

measure() { # label, command…
  local label=$1; shift
  python3 - "$label" "$@" <<'PY'
import resource, subprocess, sys, time
label, cmd = sys.argv[1], sys.argv[2:]
t = time.monotonic()
r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
s = time.monotonic() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
if r.returncode not in (0,):
    sys.stderr.write(r.stderr.decode()[-2000:])
print(f"{label:<44} {s:7.2f} s, peak RSS {rss:6.1f} MiB")
PY
}

run_backend() { # name, database URL
  local name=$1 db=$2 data="$work/data-$1"
  rm -rf "$data"
  export SOHOA_DATABASE=$db
  "$bin" --data "$data" -q procedure import fixtures/procedures.toml >/dev/null
  measure "$name: import $cases cases" "$bin" --data "$data" -q case import "$csv"
  measure "$name: import again (all unchanged)" "$bin" --data "$data" -q case import "$csv"
  measure "$name: report, one quarter, all units" "$bin" --data "$data" -q report --from 2026-07-01 --to 2026-09-30 --format csv
  measure "$name: report, json with shortfall lists" "$bin" --data "$data" -q report --from 2026-07-01 --to 2026-09-30 --format json
}

run_backend sqlite ""
if psql "$pg" -qAtc 'SELECT 1' >/dev/null 2>&1; then
  base=${pg%/*}
  psql "$pg" -qc "DROP DATABASE IF EXISTS sohoa_bench WITH (FORCE)" -c "CREATE DATABASE sohoa_bench" >/dev/null
  run_backend postgres "$base/sohoa_bench"
  psql "$pg" -qc "DROP DATABASE IF EXISTS sohoa_bench WITH (FORCE)" >/dev/null
else
  echo "PostgreSQL not reachable at $pg: SQLite only"
fi
