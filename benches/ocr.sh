#!/usr/bin/env bash
# The OCR job against OCRmyPDF on the same pages: pages/s, CPU per page and the character error rate
# of each text layer against the known text.
#
# 1. Draws PAGES (50) Vietnamese pages with known text (fixtures/ocrgen: six fonts, 11–14 pt,
#    300 dpi gray PNG, two pages a dossier; SEED fixed unless set).
# 2. sohoa: `ingest` with [ocr] enabled (release build); the run's own report gives the attach path
#    and OCR apart. CPU is the process's user+system time, less that of the same ingest without OCR.
# 3. OCRmyPDF: each page made a PDF by img2pdf, then `ocrmypdf -l vie+eng --output-type pdfa`
#    (-j 1, one page at a time, as each sohoa OCR job is; and -j $(nproc) over one 50-page PDF).
# 4. CER of both text layers with fixtures/ocrgen/cer.py (pdftotext, whitespace collapsed).
#
#   benches/ocr.sh        (PAGES=50 SEED=5 BENCH_DIR=/tmp/sohoa-ocr)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=${BENCH_DIR:-/tmp/sohoa-ocr}
pages=${PAGES:-50}
seed=${SEED:-5}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sohoa/target}"

need=()
command -v tesseract >/dev/null 2>&1 || need+=(tesseract-ocr)
[ -f /usr/share/tesseract-ocr/5/tessdata/vie.traineddata ] || need+=(tesseract-ocr-vie)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
command -v gs >/dev/null 2>&1 || need+=(ghostscript)
command -v qpdf >/dev/null 2>&1 || need+=(qpdf)
[ -f /usr/share/fonts/truetype/noto/NotoSans-Regular.ttf ] || need+=(fonts-noto-core)
[ -f /usr/share/fonts/truetype/freefont/FreeSerif.ttf ] || need+=(fonts-freefont-ttf)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
python3 -c 'import PIL' 2>/dev/null || python3 -m pip install -q pillow
command -v img2pdf >/dev/null 2>&1 || python3 -m pip install -q img2pdf
command -v ocrmypdf >/dev/null 2>&1 || python3 -m pip install -q ocrmypdf || echo "ocrmypdf not installable: its run is skipped"

cargo build --release --locked -q
bin="$CARGO_TARGET_DIR/release/sohoa"
rm -rf "$work" && mkdir -p "$work"
python3 fixtures/ocrgen/gen.py "$work/set" --n "$pages" --seed "$seed"
cp "$work/set/truth.json" "$work/truth.json"
rm "$work/set/truth.json"
mkdir -p "$work/truthdir" && mv "$work/truth.json" "$work/truthdir/truth.json"

profile() {
  printf 'name = "bench-ocr"\n[station]\nid = "bench"\n[inbox]\nafter_capture = "keep"\n[ocr]\nenabled = %s\n' "$1" > "$work/$2.toml"
}
profile true ocr
profile false plain
cpu() { awk '{print $1 + $2}' "$1"; }

echo "== sohoa ingest without OCR ($pages pages) =="
SOHOA_LISTEN=off /usr/bin/time -f "%U %S" -o "$work/plain.time" \
  "$bin" --lang en --data "$work/data-plain" ingest --profile "$work/plain.toml" "$work/set" > "$work/plain.out" 2>&1 || true
grep -E "the run took" "$work/plain.out" || cat "$work/plain.out"
echo "== sohoa ingest with [ocr] enabled ($pages pages, ocr.cores = 0.5 of $(nproc)) =="
SOHOA_LISTEN=off /usr/bin/time -f "%U %S" -o "$work/ocr.time" \
  "$bin" --lang en --data "$work/data-ocr" ingest --profile "$work/ocr.toml" "$work/set" > "$work/ocr.out" 2>&1 || true
grep -E "the run took|OCR \(after attach\)" "$work/ocr.out" || cat "$work/ocr.out"
python3 - "$work" "$pages" <<'PY'
import sys
work, pages = sys.argv[1], int(sys.argv[2])
cpu = lambda f: sum(map(float, open(f).read().split()[-2:]))
print(f"  sohoa OCR CPU per page: {(cpu(work + '/ocr.time') - cpu(work + '/plain.time')) / pages:.2f} s")
PY
echo "  CER (sohoa):"
python3 fixtures/ocrgen/cer.py "$work/truthdir" "$work/data-ocr/cases/{case}/{case}.{n:03d}.pdf" | tail -1
first_pdf=$(ls "$work"/data-ocr/cases/*/*.pdf | head -1)
qpdf --check "$first_pdf" >/dev/null && echo "  qpdf --check: ok ($first_pdf)"

if command -v ocrmypdf >/dev/null 2>&1; then
  echo "== ocrmypdf -l vie+eng --output-type pdfa, a page at a time (-j 1) =="
  mkdir -p "$work/peer"
  for png in "$work"/set/*/*.png; do
    case=$(basename "$(dirname "$png")"); mkdir -p "$work/peer/$case"
    img2pdf "$png" -o "$work/peer/$case/$(basename "$png" .png).in.pdf"
  done
  start=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$work/peer.time" bash -c '
    for f in "$0"/peer/*/*.in.pdf; do
      ocrmypdf -q -j 1 -l vie+eng --output-type pdfa "$f" "${f%.in.pdf}.pdf"
    done' "$work"
  end=$(date +%s.%N)
  python3 - "$work" "$pages" "$start" "$end" <<'PY'
import sys
work, pages, start, end = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
cpu = sum(map(float, open(work + "/peer.time").read().split()[-2:]))
print(f"  ocrmypdf: {pages} pages in {end - start:.1f} s ({pages / (end - start):.2f} pages/s), CPU per page {cpu / pages:.2f} s")
PY
  echo "  CER (ocrmypdf):"
  python3 fixtures/ocrgen/cer.py "$work/truthdir" "$work/peer/{case}/trang-{n}.pdf" | tail -1
  echo "== ocrmypdf -j $(nproc) over one $pages-page PDF =="
  img2pdf "$work"/set/*/*.png -o "$work/all.in.pdf"
  /usr/bin/time -f "  %e s wall, %U+%S s CPU" ocrmypdf -q -j "$(nproc)" -l vie+eng --output-type pdfa "$work/all.in.pdf" "$work/all.pdf"
fi
