#!/usr/bin/env bash
# Every automatic judgement of the archive profile on pages it was never built on, judged by others.
#
# 1. Draws a fresh evaluation set with the independent generator (fixtures/evalgen: other fonts,
#    layouts, languages, stamps, photos, tables, forms, ID cards, maps, A4/A5/Letter, 150–600 dpi,
#    colour/gray/1-bit, JPEG 50–95, all four orientations, skew −7…+7°, image-only scanner PDFs);
#    a new seed each run unless SEED is set.
# 2. Ingests it with pipelines/archive.toml (each scan its own dossier), timing pages/s.
# 3. Judges every output page with fixtures/evalgen/judge.py — orientation and residual skew by
#    correlation with the generator's upright reference, page size, content kept outside text, and
#    Tesseract's orientation detector as a second opinion — and prints right / wrong / abstained.
# 4. The real scans of ../shared/corpus: Tesseract's verdict on each as scanned and on sohoa's PDF.
# 5. OCRmyPDF --rotate-pages --deskew on the first PAGES_PEER pages of the same set (OCR off), judged
#    the same way, with its pages/s.
#
#   benches/judgements.sh            (PAGES=1000 PAGES_PEER=100 by default; SEED=n repeats a set;
#                                     SET_DIR=DIR judges a set drawn beforehand)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=${BENCH_DIR:-/tmp/sohoa-judgements}
pages=${PAGES:-1000}
peer=${PAGES_PEER:-100}
seed=${SEED:-$RANDOM$RANDOM}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sohoa/target}"

need=()
command -v tesseract >/dev/null 2>&1 || need+=(tesseract-ocr)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
command -v gs >/dev/null 2>&1 || need+=(ghostscript)
[ -f /usr/share/fonts/truetype/noto/NotoSans-Regular.ttf ] || need+=(fonts-noto-core)
[ -f /usr/share/fonts/truetype/freefont/FreeSerif.ttf ] || need+=(fonts-freefont-ttf)
[ -f /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf ] || need+=(fonts-liberation)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
python3 -c 'import numpy, scipy, PIL' 2>/dev/null || python3 -m pip install -q numpy scipy pillow
command -v img2pdf >/dev/null 2>&1 || python3 -m pip install -q img2pdf
command -v ocrmypdf >/dev/null 2>&1 || python3 -m pip install -q ocrmypdf || echo "ocrmypdf not installable: its run is skipped"

cargo build --release --locked -q
bin="$CARGO_TARGET_DIR/release/sohoa"
rm -rf "$work"; mkdir -p "$work"
set_dir="$work/set"

if [ -n "${SET_DIR:-}" ]; then
  # A set drawn beforehand (gen.py DIR --n N --seed S --pdf): judged as it is.
  ln -s "$(realpath "$SET_DIR")" "$set_dir"
  echo "== the set in $SET_DIR: $(wc -l < "$set_dir/truth.jsonl") pages =="
else
  echo "== drawing $pages pages (seed $seed) =="
  t0=$(date +%s.%N)
  python3 fixtures/evalgen/gen.py "$set_dir" --n "$pages" --seed "$seed" --pdf --jobs "$(nproc)" >/dev/null
  echo "drawn in $(echo "$(date +%s.%N) - $t0" | bc) s"
fi

# Each scan, and each scanner PDF, in a folder of its own named by a case code.
python3 - "$set_dir" "$work/src" <<'PY'
import json, os, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
seen = {}
for line in open(os.path.join(src, "truth.jsonl")):
    t = json.loads(line)
    f = t["file"]
    if f in seen:
        continue
    code = "H99.01-261202-%04d" % (len(seen) + 1)
    seen[f] = code
    os.makedirs(os.path.join(dst, code), exist_ok=True)
    shutil.copy(os.path.join(src, f), os.path.join(dst, code, os.path.basename(f)))
json.dump(seen, open(os.path.join(dst, "..", "folders.json"), "w"))
PY

echo "== sohoa ingest --profile pipelines/archive.toml =="
/usr/bin/time -f "%e s, peak RSS %M KB" -o "$work/time.txt" \
  "$bin" --data "$work/data" -q ingest "$work/src" --profile pipelines/archive.toml --progress none \
  --report "$work/report.json" >/dev/null || true
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
r = json.load(open(w + "/report.json"))
print(f"pages {r['pages']}, {r['pages_per_second']:.1f} pages/s, quarantined {len(r['quarantined'])}, "
      f"unrecognised sheets {len(r['unrecognised'])}, separators {r['separators']}; " + open(w + "/time.txt").read().strip())
PY

# Which output page shows which input page: from the records (blank pages left out have none).
python3 - "$work" <<'PY'
import json, os, sqlite3, sys
w = sys.argv[1]
folders = json.load(open(w + "/folders.json"))
db = sqlite3.connect(w + "/data/sohoa.db")
# The page's place in its PDF: its rank among the document's pages that went into the PDF.
rows = db.execute(
    "SELECT i.source_path, p.page_index, COALESCE(p.output_encoding, ''), d.case_code, d.ordinal FROM pages p "
    "JOIN intakes i ON i.id = p.intake_id LEFT JOIN documents d ON d.id = p.document_id "
    "ORDER BY d.id, p.page_no").fetchall()
placed, rank = {}, {}
for src, idx, enc, code, ordinal in rows:
    if code is None or enc.endswith("omitted"):
        placed[(src, idx)] = None
        continue
    k = (code, ordinal)
    rank[k] = rank.get(k, 0) + 1
    placed[(src, idx)] = (os.path.join(w, "data", "cases", code, f"{code}.{ordinal:03d}.pdf"), rank[k])
mapping = {}
for line in open(w + "/set/truth.jsonl"):
    t = json.loads(line)
    code = folders[t["file"]]
    key = (f"{code}/{os.path.basename(t['file'])}", t.get("page", 1) - 1)
    p = placed.get(key)
    mapping[t["id"]] = None if p is None else {"pdf": p[0], "page": p[1]}
json.dump(mapping, open(w + "/mapping.json", "w"))
print(f"{sum(v is not None for v in mapping.values())} of {len(mapping)} pages in PDFs")
PY

echo "== judged by fixtures/evalgen/judge.py (Tesseract OSD as a second opinion) =="
python3 fixtures/evalgen/judge.py "$set_dir" "$work/mapping.json" --tesseract | tee "$work/judged-sohoa.txt"

echo "== the real scans of ../shared/corpus: Tesseract's orientation verdict =="
if [ -d ../shared/corpus ]; then
  mkdir -p "$work/corpus/H99.02-261202-0001" "$work/corpus-out"
  for f in ../shared/corpus/*.png ../shared/corpus/*.jpg; do
    code="H99.02-261202-$(printf %04d $(( $(ls "$work/corpus" | wc -l) + 1 )))"
    mkdir -p "$work/corpus/$code"; cp "$f" "$work/corpus/$code/"
  done
  "$bin" --data "$work/corpus-data" -q ingest "$work/corpus" --profile pipelines/archive.toml --progress none >/dev/null || true
  for d in "$work"/corpus/H99.02-*; do
    f=$(ls "$d" | head -1); [ -n "$f" ] || continue
    code=$(basename "$d")
    pdf="$work/corpus-data/cases/$code/$code.001.pdf"
    # No answer (too few letters) prints "?": the run goes on.
    before=$(tesseract "$d/$f" - --psm 0 2>/dev/null | grep -E "^Rotate" | awk '{print $2}' || true)
    if [ -f "$pdf" ]; then
      pdftoppm -r 150 -gray -f 1 -l 1 -png "$pdf" "$work/corpus-out/$code" >/dev/null 2>&1
      after=$(tesseract "$work/corpus-out/$code"-1.png - --psm 0 2>/dev/null | grep -E "^Rotate" | awk '{print $2}' || true)
    else
      after="(no PDF)"
    fi
    echo "$f: Tesseract says rotate ${before:-?} as scanned, ${after:-?} as sohoa shows it"
  done
fi

echo "== OCRmyPDF --rotate-pages --deskew on the first $peer pages (OCR off) =="
if command -v ocrmypdf >/dev/null 2>&1; then
  python3 - "$set_dir" "$peer" "$work" <<'PY'
import json, sys
src, n, w = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ids, files = [], []
for line in open(src + "/truth.jsonl"):
    t = json.loads(line)
    if t["file"].startswith("scans/") and len(ids) < n:
        ids.append(t["id"]); files.append(src + "/" + t["file"])
open(w + "/peer-files.txt", "w").write("\n".join(files))
json.dump({i: {"pdf": w + "/ocrmypdf-out.pdf", "page": k + 1} for k, i in enumerate(ids)}, open(w + "/peer-mapping.json", "w"))
PY
  xargs -a "$work/peer-files.txt" -d '\n' img2pdf -o "$work/peer-in.pdf"
  start=$(date +%s.%N)
  ocrmypdf --rotate-pages --deskew --tesseract-timeout 0 --output-type pdf -O0 -q \
    "$work/peer-in.pdf" "$work/ocrmypdf-out.pdf" 2>"$work/ocrmypdf.log" || echo "ocrmypdf failed: $(tail -3 "$work/ocrmypdf.log")"
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  echo "OCRmyPDF: $peer pages in $secs s = $(echo "scale=2; $peer / $secs" | bc) pages/s"
  # The judge counts only the pages named in the mapping.
  python3 - "$set_dir" "$work" <<'PY'
import json, sys, shutil, os
src, w = sys.argv[1], sys.argv[2]
m = json.load(open(w + "/peer-mapping.json"))
os.makedirs(w + "/peer-set", exist_ok=True)
with open(w + "/peer-set/truth.jsonl", "w") as out:
    for line in open(src + "/truth.jsonl"):
        if json.loads(line)["id"] in m:
            out.write(line)
for d in ("scans", "ref", "ref_scan"):
    if not os.path.exists(w + "/peer-set/" + d):
        os.symlink(os.path.abspath(src + "/" + d), w + "/peer-set/" + d)
# sohoa on the same pages, for the table side by side
full = json.load(open(w + "/mapping.json"))
json.dump({k: full[k] for k in m}, open(w + "/peer-sohoa-mapping.json", "w"))
PY
  echo "-- OCRmyPDF --"
  python3 fixtures/evalgen/judge.py "$work/peer-set" "$work/peer-mapping.json" | tee "$work/judged-ocrmypdf.txt"
  echo "-- sohoa, the same $peer pages --"
  python3 fixtures/evalgen/judge.py "$work/peer-set" "$work/peer-sohoa-mapping.json" | tee "$work/judged-sohoa-peer.txt"
else
  echo "ocrmypdf is not installed: skipped"
fi
