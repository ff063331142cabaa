#!/usr/bin/env bash
# A clerk's corrections on a 50-page document: colour JPEG pages passed through (their geometry in the
# PDF's placement) and gray PNG pages re-encoded by the archive profile (classified, binarized, G4).
# Each correction (turn, order, remove, restore) is run ROUNDS times through the release binary, as a
# clerk runs it: the whole command, from opening the records to the new version committed. Prints the
# median and the slowest wall time per operation and kind.
#
#   benches/corrections.sh [ROUNDS]      (default 5)
#
# Work files go to ${BENCH_DIR:-/tmp/sohoa-corrections-bench}.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
work=${BENCH_DIR:-/tmp/sohoa-corrections-bench}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sohoa/target}"
cargo build --release --locked -q
bin="$CARGO_TARGET_DIR/release/sohoa"
rm -rf "$work"; mkdir -p "$work"
jpeg=H15.50.05.13-261008-0975
png=H15.50.05.13-261008-0977
python3 - "$work" "$jpeg" "$png" <<'PY'
import os, sys
sys.path.insert(0, "fixtures")
import generate
work, jpeg, png = sys.argv[1:]
for code in (jpeg, png):
    os.makedirs(os.path.join(work, "src", code), exist_ok=True)
for i in range(50):
    img = generate.page((2480, 3508), seed=i)
    img.save(os.path.join(work, "src", jpeg, f"p{i:02}.jpg"), quality=85, dpi=(300, 300))
    img.convert("L").save(os.path.join(work, "src", png, f"p{i:02}.png"), dpi=(300, 300))
PY
# The JPEG pages under a profile that keeps their bytes (straightening, turns and crops in the PDF's
# placement); the PNG pages under the archive profile, which classifies and re-encodes every page.
cat > "$work/passthrough.toml" <<'TOML'
name = "passthrough"
[station]
id = "kho-01"
[inbox]
after_capture = "keep"
[grouping]
document = "folder"
[output]
blank_pages = "omit"
deskew = true
orientation = true
borders = true
TOML
mkdir -p "$work/jpeg" "$work/png"
mv "$work/src/$jpeg" "$work/jpeg/"; mv "$work/src/$png" "$work/png/"
"$bin" --lang en ingest "$work/jpeg" --profile "$work/passthrough.toml" --data "$work/data" >/dev/null 2>&1
"$bin" --lang en ingest "$work/png" --profile pipelines/archive.toml --data "$work/data" >/dev/null 2>&1
order=$(python3 -c "print(','.join(str(i) for i in [2, 1] + list(range(3, 51))))")
for code in "$jpeg" "$png"; do
  kind=$([ "$code" = "$jpeg" ] && echo "jpeg-passthrough" || echo "re-encoded")
  for op in "turn 1 90" "order $order" "remove 5" "restore 5"; do
    name=${op%% *}
    times=()
    for _ in $(seq "$rounds"); do
      # A page is restored after each timed remove, and removed before each timed restore (untimed).
      if [ "$name" = restore ]; then "$bin" doc remove "$code" 1 5 --data "$work/data" >/dev/null 2>&1; fi
      # shellcheck disable=SC2086
      t=$( { /usr/bin/time -f %e "$bin" --lang en doc $name "$code" 1 ${op#* } --data "$work/data" >/dev/null; } 2>&1 | tail -1)
      times+=("$t")
      if [ "$name" = remove ]; then "$bin" doc restore "$code" 1 5 --data "$work/data" >/dev/null 2>&1; fi
    done
    printf '%-17s %-8s median %ss  slowest %ss  (%s rounds, 50 pages)\n' "$kind" "$name" \
      "$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" \
      "$(printf '%s\n' "${times[@]}" | sort -n | tail -1)" "$rounds"
  done
done
"$bin" verify --data "$work/data" >/dev/null && echo "verify: every stored file recorded and intact"
