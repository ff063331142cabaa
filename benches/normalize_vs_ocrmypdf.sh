#!/usr/bin/env bash
# The full normalization chain — decode → border → blank → orientation → deskew → colour mode →
# Sauvola + despeckle → encode — on A4 300-dpi scanner JPEGs (Vietnamese text, some skewed, one turned
# sideways, seals, a blank page; `fixtures/truth.py bench`), using every core. Prints pages/s, output
# bytes, peak RSS at 50 and at 500 pages, and where the CPU time per page goes by stage; then the same
# 50 pages through OCRmyPDF --tesseract-timeout 0 --deskew --clean --output-type pdfa -O1, when it is
# installed (apt-get install ocrmypdf unpaper; pip install img2pdf).
#
#   benches/normalize_vs_ocrmypdf.sh            (SIZES="50 500" by default; OCRMYPDF=0 skips the peer)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-/tmp/sohoa-normalize-bench}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sohoa/target}"
cargo build --release --locked -q
bin="$CARGO_TARGET_DIR/release/sohoa"
code=H15.50.05.13-261008-0975
mkdir -p "$work"
cat > "$work/chain.toml" <<'TOML'
name = "normalize-bench"
[station]
id = "bench"
[inbox]
after_capture = "keep"
[grouping]
document = "folder"
[output]
colour_mode = "auto"
blank_pages = "omit"
deskew = true
orientation = true
borders = true
target_dpi = 300
contone = "jpeg"
case_folder_view = false
TOML

for n in ${SIZES:-50 500}; do
  src="$work/pages-$n/$code"
  if [ ! -f "$src/.done" ]; then
    rm -rf "$work/pages-$n"; mkdir -p "$src"
    python3 fixtures/truth.py "$src" bench "$n"
    touch "$src/.done"
  fi
  rm -rf "$work/data-$n"
  /usr/bin/time -f "%e %M" -o "$work/time-$n" "$bin" --data "$work/data-$n" -q ingest "$work/pages-$n" \
    --profile "$work/chain.toml" --progress none --report "$work/report-$n.json" >/dev/null
  read -r secs kib < "$work/time-$n"
  bytes=$("$bin" --data "$work/data-$n" -q case show "$code" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(doc.get("bytes") or 0 for doc in d["documents"]))')
  python3 - "$n" "$secs" "$kib" "$bytes" "$work/report-$n.json" <<'PY'
import json, sys
n, secs, kib, out, report = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
r = json.load(open(report))
print(f"sohoa, {n} pages: {n / secs:.1f} pages/s ({secs:.1f} s wall, 2 cores), output {out / 1e6:.1f} MB, peak RSS {kib // 1024} MiB")
stages = r.get("stage_seconds", {})
per_page = {k: v * 1000 / n for k, v in stages.items() if k in ("decode", "normalize", "binarize", "rotate", "encode", "write")}
total = sum(per_page.values())
print("  CPU per page: " + ", ".join(f"{k} {v:.0f} ms" for k, v in per_page.items()) + f" — {total:.0f} ms in all")
PY
done

if [ "${OCRMYPDF:-1}" = 1 ] && command -v ocrmypdf >/dev/null && python3 -c 'import img2pdf' 2>/dev/null; then
  src="$work/pages-50/$code"
  find "$src" -name '*.jpg' | sort | xargs img2pdf -o "$work/in-50.pdf"
  /usr/bin/time -f "%e %M" -o "$work/time-ocr" ocrmypdf -q -j "$(nproc)" --tesseract-timeout 0 --deskew --clean \
    --output-type pdfa -O1 "$work/in-50.pdf" "$work/ocrmypdf-50.pdf"
  read -r secs kib < "$work/time-ocr"
  python3 -c "print(f'ocrmypdf --tesseract-timeout 0 --deskew --clean --output-type pdfa -O1, 50 pages: {50 / $secs:.2f} pages/s ({$secs:.0f} s), output {$(stat -c %s "$work/ocrmypdf-50.pdf") / 1e6:.1f} MB, peak RSS {$kib // 1024} MiB')"
else
  echo "(OCRmyPDF not run: apt-get install ocrmypdf unpaper; pip install img2pdf)"
fi
