#!/usr/bin/env bash
# Throughput and memory of `sohoa ingest` beside img2pdf, on the same generated A4 300-dpi colour JPEGs,
# with the disk's own durable-write limit measured alongside.
#
#   benches/ingest_vs_img2pdf.sh [PAGES]        (default 500; try 5000 to see RSS stay flat)
#
# Needs: python3 with Pillow and img2pdf (`pip install pillow img2pdf`). Work files go to
# ${BENCH_DIR:-/tmp/sohoa-bench}. Prints one line per tool: pages/s and peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
pages=${1:-500}
work=${BENCH_DIR:-/tmp/sohoa-bench}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sohoa/target}"
cargo build --release --locked -q
bin="$CARGO_TARGET_DIR/release/sohoa"
python3 -c 'import PIL, img2pdf' 2>/dev/null || python3 -m pip install -q pillow img2pdf

jpegs="$work/jpegs-$pages"
if [ ! -f "$jpegs/.done" ]; then
  rm -rf "$jpegs"; mkdir -p "$jpegs"
  echo "generating $pages A4 300-dpi colour JPEGs …"
  python3 fixtures/generate.py "$jpegs/H15.50.05.13-261008-0975" bench "$pages"
  touch "$jpegs/.done"
fi
bytes=$(du -sb "$jpegs" | cut -f1)
mb_per_page=$(python3 -c "print($bytes / $pages / 1e6)")

measure() { # label, command…  → "label: N pages in S s = P pages/s, peak RSS R MiB"
  local label=$1; shift
  python3 - "$label" "$pages" "$@" <<'PY'
import resource, subprocess, sys, time
label, pages, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
t = time.monotonic()
subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
s = time.monotonic() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{label:<34} {pages} pages in {s:6.2f} s = {pages / s:7.1f} pages/s, peak RSS {rss:6.1f} MiB")
with open(__import__("os").environ["RATES"], "a") as f:
    f.write(f"{label}\t{pages / s}\n")
PY
}

export RATES="$work/rates.tsv"; : > "$RATES"
echo "input: $pages JPEGs, $(python3 -c "print(round($mb_per_page, 2))") MB each, $(nproc) cores"
sync
dd if=/dev/zero of="$work/dd.bin" bs=1M count=1024 conv=fsync 2>"$work/dd.log"; rm -f "$work/dd.bin"
mbps=$(grep -oE '[0-9.]+ [MG]B/s' "$work/dd.log" | tail -1)
mbps_num=$(echo "$mbps" | awk '{v=$1; if ($2=="GB/s") v*=1000; print v}')
echo "disk durable-write limit (dd conv=fsync): $mbps"
echo "  → copying from a kept inbox, sohoa writes each page's bytes once (the original; its PDF refers to it): at most $(python3 -c "print(round($mbps_num / $mb_per_page, 1))") pages/s"
echo "  → taking from an emptied inbox on the same file system, it writes only the PDFs' own few hundred bytes a page"

profile="$work/bench.toml"
printf 'name = "bench"\n[inbox]\nafter_capture = "keep"\n[grouping]\ndocument = "file"\n[output]\ncase_folder_view = false\n' > "$profile"
rm -rf "$work/data"; sync
measure "sohoa ingest, kept inbox (copies)" "$bin" --data "$work/data" -q ingest "$jpegs" --profile "$profile"
# A station's inbox empties itself (after_capture = "remove"): the store takes each scan by a second
# name instead of copying it. The inbox is a real copy of the set, on disk before the clock starts.
leaving="$work/leaving.toml"
sed 's/after_capture = "keep"/after_capture = "remove"/' "$profile" > "$leaving"
rm -rf "$work/inbox" "$work/data-leaving"; cp -r "$jpegs" "$work/inbox"; sync
measure "sohoa ingest, emptied inbox (takes)" "$bin" --data "$work/data-leaving" -q ingest "$work/inbox" --profile "$leaving"
rm -rf "$work/data-leaving"
rm -f "$work/img2pdf.pdf"; sync
measure "img2pdf (one PDF, no fsync)" python3 -m img2pdf "$jpegs"/H15*/*.jpg -o "$work/img2pdf.pdf"
rm -rf "$work/img2pdf-each"; mkdir -p "$work/img2pdf-each"; sync
measure "img2pdf (a PDF per page, no fsync)" python3 -c '
import glob, os, sys, img2pdf
for f in sorted(glob.glob(sys.argv[1] + "/H15*/*.jpg")):
    with open(os.path.join(sys.argv[2], os.path.basename(f) + ".pdf"), "wb") as out:
        out.write(img2pdf.convert(f))
' "$jpegs" "$work/img2pdf-each"
measure "img2pdf (a PDF per page, fsync'd)" python3 -c '
import glob, os, sys, img2pdf
for f in sorted(glob.glob(sys.argv[1] + "/H15*/*.jpg")):
    with open(os.path.join(sys.argv[2], os.path.basename(f) + ".pdf"), "wb") as out:
        out.write(img2pdf.convert(f)); out.flush(); os.fsync(out.fileno())
' "$jpegs" "$work/img2pdf-each"
echo "sohoa output: $(du -sh "$work/data/blobs" | cut -f1) in blobs (originals + PDFs); img2pdf: $(du -sh "$work/img2pdf.pdf" | cut -f1)"
python3 - "$RATES" "$mbps_num" "$mb_per_page" <<'PY'
import sys
rates = dict(l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip())
rates = {k: float(v) for k, v in rates.items()}
limit = float(sys.argv[2]) / float(sys.argv[3])
img = {k: v for k, v in rates.items() if k.startswith("img2pdf")}
for k, v in rates.items():
    if k.startswith("sohoa"):
        ratios = ", ".join(f"{v / r:.2f}x {name.split('(')[1].rstrip(')')}" for name, r in img.items())
        print(f"{k}: {ratios} img2pdf; the copy's disk limit is {limit / v:.2f}x its rate")
PY
