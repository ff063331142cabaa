#!/usr/bin/env bash
# What a page takes in memory while it is prepared, and what many large pages take together: each
# one-page input alone through `sohoa ingest` with the counter and the archive profile (peak resident
# memory from the kernel, less an idle run on a tiny page), then large colour pages several at once —
# the numbers behind `page_cost` in src/pipeline/render.rs and `output.page_memory_mb`.
#
#   benches/page_memory.sh            (release build; SOHOA_BIN=path runs another binary)
#
# Needs Pillow and numpy. Work files go to ${BENCH_DIR:-/tmp/sohoa-page-memory}.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-/tmp/sohoa-page-memory}
if [ -z "${SOHOA_BIN:-}" ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sohoa/target}"
  cargo build --release --locked -q
  SOHOA_BIN="$CARGO_TARGET_DIR/release/sohoa"
fi
mkdir -p "$work"
code=H15.50.05.13-261008-0975

# A4 at 600 dpi (4960 × 7016): text lines, a photo-like block, skewed 3°, as colour, gray and 1-bit.
python3 - "$work" "$code" <<'PY'
import os, sys
import numpy as np
from PIL import Image, ImageDraw
work, code = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(7)
w, h = 4960, 7016
def page(seed):
    img = Image.new("RGB", (w, h), (246, 244, 238))
    d = ImageDraw.Draw(img)
    for y in range(600, h - 600, 140):
        x = 500
        while x < w - 700:
            n = int(rng.integers(80, 400))
            d.rectangle([x, y, x + n, y + 60], fill=(25, 25, 30))
            x += n + 60
    photo = (rng.random((1400, 2000, 3)) * 255).astype(np.uint8)
    img.paste(Image.fromarray(photo), (1400, 2400))
    return img.rotate(3, expand=False, fillcolor=(246, 244, 238))
def put(name, img, n=1):
    d = os.path.join(work, "src", name, code)
    os.makedirs(d, exist_ok=True)
    for k in range(n):
        p = os.path.join(d, f"p{k:02}.png")
        if not os.path.exists(p):
            img.save(p, dpi=(600, 600), compress_level=1)
base = page(1)
put("tiny", Image.new("L", (200, 280), 255).resize((200, 280)))
put("colour", base)
put("gray", base.convert("L"))
put("bitonal", base.convert("L").point(lambda v: 255 if v > 128 else 0).convert("1"))
# Eight colour pages in four documents, made at once.
for k in range(4):
    d = os.path.join(work, "src", "many", f"H15.50.05.13-261008-{976 + k:04}")
    os.makedirs(d, exist_ok=True)
    for j in range(2):
        p = os.path.join(d, f"p{j}.png")
        if not os.path.exists(p):
            # A mark of its own, so that no two files are the same bytes (one would be a duplicate).
            img = base.copy()
            ImageDraw.Draw(img).rectangle([300 + 200 * (2 * k + j), 300, 400 + 200 * (2 * k + j), 400], fill=(0, 0, 0))
            img.save(p, dpi=(600, 600), compress_level=1)
PY

peak() {  # peak resident KiB of one ingest of a copy of src/$1 (ingest empties its inbox); more args go to ingest
  local kind=$1 data="$work/data" inbox="$work/inbox"
  shift
  rm -rf "$data" "$inbox"
  cp -r "$work/src/$kind" "$inbox"
  SOHOA_LISTEN=off /usr/bin/time -f %M -o "$work/rss" "$SOHOA_BIN" --data "$data" ingest "$@" "$inbox" >/dev/null 2>&1 || true
  cat "$work/rss"
}
idle=$(peak tiny)
pixels=$((4960 * 7016))
printf 'idle: %d MiB\n%-10s %-10s %12s %14s\n' $((idle / 1024)) profile page 'peak MiB' 'bytes/pixel'
for profile in counter archive; do
  for kind in colour gray bitonal; do
    kib=$(peak "$kind" --profile "pipelines/$profile.toml")
    printf '%-10s %-10s %12d %14.2f\n' "$profile" "$kind" $((kib / 1024)) "$(echo "($kib - $idle) * 1024 / $pixels" | bc -l)"
  done
done
# The same eight pages under budgets of 256 MiB, 384 MiB (the default) and 65536 MiB (none to speak of).
profile="$work/profile.toml"
for mb in 256 384 65536; do
  sed "s/^\[output\]$/[output]\npage_memory_mb = $mb/" pipelines/counter.toml > "$profile"
  kib=$(peak many --profile "$profile")
  printf '8 colour pages in 4 documents, page_memory_mb = %d: peak %d MiB\n' "$mb" $((kib / 1024))
done
