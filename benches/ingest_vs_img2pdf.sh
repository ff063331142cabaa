#!/usr/bin/env bash
# Throughput and memory of `sohoa ingest` beside img2pdf, on the same generated A4 300-dpi colour JPEGs,
# with the disk's own durable-write limit measured alongside.
#
#   benches/ingest_vs_img2pdf.sh [PAGES]        (default 500; try 5000 to see RSS stay flat)
#
# A virtual machine's disk and page cache vary from one run to the next, so every measurement is taken
# ROUNDS times (default 3), the tools taking turns within a round, and the summary compares medians.
#
# Needs: python3 with Pillow and img2pdf (`pip install pillow img2pdf`). Work files go to
# ${BENCH_DIR:-/tmp/sohoa-bench}. Prints one line per run (pages/s, peak RSS), then medians and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
pages=${1:-500}
work=${BENCH_DIR:-/tmp/sohoa-bench}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sohoa/target}"
cargo build --release --locked -q
bin="$CARGO_TARGET_DIR/release/sohoa"
python3 -c 'import PIL, img2pdf' 2>/dev/null || python3 -m pip install -q pillow img2pdf

jpegs="$work/jpegs-$pages"
. benches/bench_jpegs.sh
bench_jpegs "$jpegs" "$pages"
bytes=$(du -sb "$jpegs" | cut -f1)
mb_per_page=$(python3 -c "print($bytes / $pages / 1e6)")

measure() { # label, command…  → "label: N pages in S s = P pages/s, peak RSS R MiB"
  local label=$1; shift
  python3 - "$label" "$pages" "$@" <<'PY'
import os, resource, subprocess, sys, time
label, pages, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
t = time.monotonic()
subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
s = time.monotonic() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"  {label:<36} {pages} pages in {s:6.2f} s = {pages / s:7.1f} pages/s, peak RSS {rss:6.1f} MiB")
with open(os.environ["RATES"], "a") as f:
    f.write(f"{label}\t{pages / s}\t{rss}\n")
PY
}

rounds=${ROUNDS:-3}
[ "$rounds" -ge 1 ] || { echo "ROUNDS must be 1 or more" >&2; exit 2; }
export RATES="$work/rates.tsv"; : > "$RATES"
echo "input: $pages JPEGs, $(python3 -c "print(round($mb_per_page, 2))") MB each, $(nproc) cores, $rounds rounds"

profile="$work/bench.toml"
printf 'name = "bench"\n[inbox]\nafter_capture = "keep"\n[grouping]\ndocument = "file"\n[output]\ncase_folder_view = false\n' > "$profile"
# A station's inbox empties itself (after_capture = "remove"): the store takes each scan by a second
# name instead of copying it. The inbox is a real copy of the set, on disk before the clock starts.
leaving="$work/leaving.toml"
sed 's/after_capture = "keep"/after_capture = "remove"/' "$profile" > "$leaving"
mkdir -p "$work/img2pdf-each"

for round in $(seq "$rounds"); do
  echo "round $round"
  sync
  LC_ALL=C dd if=/dev/zero of="$work/dd.bin" bs=1M count=1024 conv=fsync 2>"$work/dd.log"; rm -f "$work/dd.bin"
  mbps=$(grep -oE '[0-9.]+ [kMG]B/s' "$work/dd.log" | tail -1 || true)
  echo "  disk durable-write limit (dd conv=fsync, 1 GB): ${mbps:-unknown}"
  echo "$mbps" | awk 'NF == 2 {v=$1; if ($2=="GB/s") v*=1000; if ($2=="kB/s") v/=1000; printf "dd\t%s\t0\n", v}' >> "$RATES"

  rm -rf "$work/data"; sync
  measure "sohoa ingest, kept inbox (copies)" "$bin" --data "$work/data" -q ingest "$jpegs" --profile "$profile"
  rm -rf "$work/inbox" "$work/data-leaving"; cp -r "$jpegs" "$work/inbox"; sync
  measure "sohoa ingest, emptied inbox (takes)" "$bin" --data "$work/data-leaving" -q ingest "$work/inbox" --profile "$leaving"
  rm -rf "$work/data-leaving"
  rm -f "$work/img2pdf.pdf"; sync
  measure "img2pdf (one PDF, no fsync)" python3 -m img2pdf "$jpegs"/H15*/*.jpg -o "$work/img2pdf.pdf"
  rm -f "$work/img2pdf-each"/*; sync
  measure "img2pdf (a PDF per page, no fsync)" python3 -c '
import glob, os, sys, img2pdf
for f in sorted(glob.glob(sys.argv[1] + "/H15*/*.jpg")):
    with open(os.path.join(sys.argv[2], os.path.basename(f) + ".pdf"), "wb") as out:
        out.write(img2pdf.convert(f))
' "$jpegs" "$work/img2pdf-each"
  rm -f "$work/img2pdf-each"/*; sync
  measure "img2pdf (a PDF per page, fsync'd)" python3 -c '
import glob, os, sys, img2pdf
for f in sorted(glob.glob(sys.argv[1] + "/H15*/*.jpg")):
    with open(os.path.join(sys.argv[2], os.path.basename(f) + ".pdf"), "wb") as out:
        out.write(img2pdf.convert(f)); out.flush(); os.fsync(out.fileno())
' "$jpegs" "$work/img2pdf-each"
done
echo "sohoa output: $(du -sh "$work/data/blobs" | cut -f1) in blobs (originals + PDFs); img2pdf: $(du -sh "$work/img2pdf.pdf" | cut -f1)"
python3 - "$RATES" "$mb_per_page" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    if line.strip():
        label, rate, rss = line.rstrip("\n").split("\t")
        runs.setdefault(label, []).append((float(rate), float(rss)))
med = {k: statistics.median(r for r, _ in v) for k, v in runs.items()}
print("\nmedians")
for k, v in runs.items():
    if k == "dd":
        continue
    lo, hi = min(r for r, _ in v), max(r for r, _ in v)
    print(f"  {k:<36} {med[k]:7.1f} pages/s (range {lo:.1f}–{hi:.1f}), peak RSS at most {max(m for _, m in v):.1f} MiB")
limit = med.get("dd", float("nan")) / float(sys.argv[2])
print(f"  disk durable-write limit: {med.get('dd', float('nan')):.0f} MB/s = {limit:.1f} pages/s of these scans")
print("  (copying from a kept inbox, sohoa writes each page's bytes once: the original, which its PDF refers to;")
print("   taking from an emptied inbox on the same file system, it writes only the PDFs' own few hundred bytes)")
img = {k: v for k, v in med.items() if k.startswith("img2pdf")}
print("ratios of medians")
for k, v in med.items():
    if k.startswith("sohoa"):
        ratios = ", ".join(f"{v / r:.2f}x {name.split('(')[1].rstrip(')')}" for name, r in img.items())
        print(f"  {k}: {ratios} img2pdf; the disk limit is {limit / v:.2f}x its rate")
PY
