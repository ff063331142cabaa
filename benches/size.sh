#!/usr/bin/env bash
# Output size of sohoa beside img2pdf and OCRmyPDF on the same 50-page A4 300-dpi sets: colour JPEG,
# gray JPEG, colour PNG, 1-bit TIFF. Prints total bytes per tool and set.
#
#   benches/size.sh [PAGES]       (default 50)
#
# Needs Pillow and img2pdf (pip), and for the OCRmyPDF columns `apt-get install ocrmypdf` (its -O2 also
# wants pngquant). Work files go to ${BENCH_DIR:-/tmp/sohoa-size}.
set -euo pipefail
cd "$(dirname "$0")/.."
pages=${1:-50}
work=${BENCH_DIR:-/tmp/sohoa-size}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sohoa/target}"
cargo build --release --locked -q
bin="$CARGO_TARGET_DIR/release/sohoa"
mkdir -p "$work"

python3 - "$work" "$pages" <<'PY'
import os, sys
sys.path.insert(0, "fixtures")
import generate as g
work, n = sys.argv[1], int(sys.argv[2])
sets = {"colour-jpeg": ("jpg", "RGB"), "gray-jpeg": ("jpg", "L"), "png": ("png", "RGB"), "bitonal-tiff": ("tif", "1")}
for name, (ext, mode) in sets.items():
    d = os.path.join(work, name, "H15.50.05.13-261008-0975")
    if os.path.isdir(d) and len(os.listdir(d)) == n:
        continue
    os.makedirs(d, exist_ok=True)
    for k in range(n):
        img = g.page(g.A4_300, "RGB" if mode == "RGB" else ("L" if mode == "L" else "1"), seed=500 + k)
        if mode in ("RGB",):
            img = g.noisy(img, seed=600 + k, amount=0.03)
        elif mode == "L":
            img = g.noisy(img.convert("RGB"), seed=600 + k, amount=0.03).convert("L")
        p = os.path.join(d, f"p{k:03}.{ext}")
        if ext == "jpg":
            img.save(p, quality=85, dpi=(300, 300))
        elif ext == "png":
            img.save(p, dpi=(300, 300))
        else:
            img.save(p, compression="group4", dpi=(300, 300))
PY

printf 'name = "lossless"\n[inbox]\nafter_capture = "keep"\n[grouping]\ndocument = "folder"\n[output]\ncontone = "flate"\noptimize_jpeg = true\njbig2 = true\n' > "$work/lossless.toml"
printf 'name = "archive-size"\n[inbox]\nafter_capture = "keep"\n[grouping]\ndocument = "folder"\n[output]\ncontone = "jpeg"\njpeg_quality = 85\ncolour_mode = "auto"\n' > "$work/archive.toml"

size() { du -cb "$@" 2>/dev/null | tail -1 | cut -f1; }
printf '%-14s %12s %12s %12s %12s %12s %12s\n' set input sohoa-lossless sohoa-archive img2pdf ocrmypdf-O1 ocrmypdf-O2
for set in colour-jpeg gray-jpeg png bitonal-tiff; do
  src="$work/$set"
  input=$(size "$src"/H15*/*)
  row=("$set" "$input")
  for prof in lossless archive; do
    rm -rf "$work/data-$prof-$set"
    "$bin" --data "$work/data-$prof-$set" -q ingest "$src" --profile "$work/$prof.toml" >/dev/null
    row+=("$(size "$work/data-$prof-$set"/cases/*/*.pdf)")
  done
  if [ "$set" = bitonal-tiff ]; then
    python3 -m img2pdf "$src"/H15*/*.tif -o "$work/img2pdf-$set.pdf" 2>/dev/null || true
  else
    python3 -m img2pdf "$src"/H15*/* -o "$work/img2pdf-$set.pdf"
  fi
  row+=("$(size "$work/img2pdf-$set.pdf")")
  for o in 1 2; do
    out="$work/ocrmypdf-O$o-$set.pdf"
    if command -v ocrmypdf >/dev/null && [ ! -f "$out" ]; then
      ocrmypdf -q --tesseract-timeout 0 --output-type pdfa -O$o --image-dpi 300 "$work/img2pdf-$set.pdf" "$out" 2>/dev/null || rm -f "$out"
    fi
    row+=("$( [ -f "$out" ] && size "$out" || echo n/a)")
  done
  printf '%-14s %12s %12s %12s %12s %12s %12s\n' "${row[@]}"
done
