#!/usr/bin/env bash
# An archive run at scale: a generated stack of PAGES A4 300-dpi pages (colour JPEGs and 1-bit G4 TIFFs
# in turn) with a QR separator sheet before every 20, ingested with the archive profile (separator
# detection, colour classification, blank pages, deskew). Prints pages/s and peak RSS when 1,000 pages
# are attached and at the end: the peak must not grow with the run. Then the first 200 files side by
# side with OCRmyPDF's batch mode (no OCR: --tesseract-timeout 0, PDF/A, -O1), when it is installed.
#
#   benches/archive_run.sh [PAGES]        (default 10000)
#   PARTS=subset benches/archive_run.sh   (only the side-by-side; PARTS=full for only the big run)
#
# Work files go to ${BENCH_DIR:-/tmp/sohoa-archive-bench} (about 1 GB per 1,000 pages, twice: inputs
# and the blob store).
set -euo pipefail
cd "$(dirname "$0")/.."
pages=${1:-10000}
work=${BENCH_DIR:-/tmp/sohoa-archive-bench}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sohoa/target}"
cargo build --release --locked -q
bin="$CARGO_TARGET_DIR/release/sohoa"
mkdir -p "$work"

stack="$work/stack-$pages"
if [ ! -f "$stack/.done" ]; then
  rm -rf "$stack" "$work/sheets"; mkdir -p "$work/sheets"
  sheets=$(( (pages + 19) / 20 ))
  echo "printing $sheets separator sheets …"
  codes=$(python3 -c "print(' '.join('H15.50.05.13-261008-%04d' % (i + 1) for i in range($sheets)))")
  # shellcheck disable=SC2086
  "$bin" separator print --out "$work/sheets/sheets.pdf" $codes 2>/dev/null
  pdftoppm -r 300 -mono "$work/sheets/sheets.pdf" "$work/sheets/s"
  python3 - "$work/sheets" <<'PY'
import os, sys
from PIL import Image
d = sys.argv[1]
for f in sorted(os.listdir(d)):
    if f.endswith(".pbm"):
        Image.open(os.path.join(d, f)).convert("1").save(os.path.join(d, f[:-4] + ".tif"), compression="group4", dpi=(300, 300))
        os.remove(os.path.join(d, f))
PY
  echo "generating $pages pages …"
  python3 -c "import sys; sys.path.insert(0, 'fixtures'); import generate; print(generate.archive_bench('$stack/stack-01', '$work/sheets', $pages), 'files')"
  touch "$stack/.done"
fi

run() { # data-dir, input → JSON lines of the run, then the figures
  python3 - "$bin" "$1" "$2" <<'PY'
import json, subprocess, sys, time
bin, data, src = sys.argv[1:4]
def hwm(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:
        return 0
t0 = time.time()
p = subprocess.Popen([bin, "--data", data, "-q", "ingest", src, "--profile", "pipelines/archive.toml",
                      "--progress", "json"], stdout=subprocess.PIPE, text=True)
at_1000 = None
done = None
peak = 0
for line in p.stdout:
    ev = json.loads(line)
    peak = max(peak, hwm(p.pid))
    if ev.get("event") == "progress" and at_1000 is None and ev["pages_attached"] >= 1000:
        at_1000 = (ev["pages_attached"], time.time() - t0, peak)
    if ev.get("event") == "done":
        done = ev
        peak = max(peak, hwm(p.pid))
p.wait()
secs = time.time() - t0
if at_1000:
    print(f"  at {at_1000[0]:>6} pages attached: {at_1000[0] / at_1000[1]:6.1f} pages/s, peak RSS {at_1000[2]} MiB")
print(f"  at {done['pages']:>6} pages (end):      {done['pages'] / secs:6.1f} pages/s, peak RSS {peak} MiB "
      f"({secs:.0f} s; {done['dossiers']} dossiers, {done['documents']} documents, {done['separators']} sheets, "
      f"{done['blanks_removed']} blanks, {len(done['quarantined'])} quarantined, {done['unfiled_pages']} unfiled)")
PY
}

parts=${PARTS:-full,subset}
if [[ $parts == *full* ]]; then
  echo "sohoa ingest, archive profile, $pages pages:"
  rm -rf "$work/data"
  run "$work/data" "$stack"
fi
[[ $parts == *subset* ]] || exit 0

sub="$work/subset-200"
if [ ! -f "$sub/.done" ]; then
  rm -rf "$sub"; mkdir -p "$sub/stack-01"
  find "$stack/stack-01" -type f | sort > "$work/files.txt"
  head -200 "$work/files.txt" | xargs -I{} cp {} "$sub/stack-01/"
  touch "$sub/.done"
fi
echo "the first 200 files:"
rm -rf "$work/data-200"
/usr/bin/time -f "  sohoa ingest: %e s, peak RSS %M KiB" "$bin" --data "$work/data-200" -q ingest "$sub" --profile pipelines/archive.toml --progress none >/dev/null
if command -v ocrmypdf >/dev/null && python3 -c 'import img2pdf' 2>/dev/null; then
  rm -f "$work/subset.pdf" "$work/ocrmypdf.pdf"
  # OCRmyPDF takes one PDF per batch: the 200 files as they are (img2pdf, lossless), then PDF/A, -O1.
  find "$sub/stack-01" -type f | sort > "$work/subset.txt"
  xargs img2pdf -o "$work/subset.pdf" < "$work/subset.txt"
  /usr/bin/time -f "  ocrmypdf -j $(nproc) --tesseract-timeout 0 --output-type pdfa -O1: %e s, peak RSS %M KiB" \
    ocrmypdf -q -j "$(nproc)" --tesseract-timeout 0 --output-type pdfa -O1 "$work/subset.pdf" "$work/ocrmypdf.pdf"
  echo "  output: sohoa $(du -sb "$work/data-200/cases" | cut -f1) bytes of PDFs, ocrmypdf $(stat -c %s "$work/ocrmypdf.pdf") bytes"
else
  echo "  (ocrmypdf or img2pdf not installed: apt-get install ocrmypdf; pip install img2pdf)"
fi
