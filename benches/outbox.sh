#!/usr/bin/env bash
# Delivery to the one-stop system: N cases of one attached document each, their outbox entries
# delivered by `sohoa outbox send` (one pass, entries one after another) through each adapter —
# `folder` (PDF + JSON written, fsynced, renamed), `dvcqg` (the portal's JSON, signed links) and `http`
# (multipart with the PDF streamed) — to a receiver on loopback (Python's ThreadingHTTPServer that reads
# the whole body and answers 200). Prints entries/s per adapter and the receiver's own count.
#
#   benches/outbox.sh [N]      (default 300)
#
# Work files go to ${BENCH_DIR:-/tmp/sohoa-outbox-bench}; SOHOA_BIN names a built binary to use instead
# of building the release one.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-300}
work=${BENCH_DIR:-/tmp/sohoa-outbox-bench}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sohoa/target}"
bin="${SOHOA_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --locked -q
  bin="$CARGO_TARGET_DIR/release/sohoa"
fi
rm -rf "$work"; mkdir -p "$work/src" "$work/exchange"
python3 - "$work" "$n" <<'PY'
import os, sys
from PIL import Image, ImageDraw
work, n = sys.argv[1], int(sys.argv[2])
rows = ["ma_ho_so,ma_thu_tuc,don_vi,ngay_tiep_nhan,trang_thai"]
for i in range(n):
    code = f"H15.50.05.13-261008-{i:04}"
    os.makedirs(os.path.join(work, "src", code))
    img = Image.new("L", (1240, 1754), 245)
    d = ImageDraw.Draw(img)
    for y in range(150, 1600, 40):
        d.rectangle([120, y, 120 + (y * 7 + i * 13) % 900 + 100, y + 14], fill=30)
    img.save(os.path.join(work, "src", code, "p1.jpg"), quality=85, dpi=(150, 150))
    rows.append(f"{code},1.001234,H15.50,2026-10-08,đang xử lý")
open(os.path.join(work, "cases.csv"), "w").write("\n".join(rows) + "\n")
PY
cat > "$work/base.toml" <<'TOML'
name = "bench"
[station]
id = "quay-01"
[inbox]
after_capture = "keep"
[grouping]
document = "folder"
TOML
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$port" > "$work/receiver.log" 2>&1 <<'PY' &
import sys, http.server
count = 0
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        count += 1
        body = b'{"id":"R-%d"}' % count
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        body = str(count).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
receiver=$!
trap 'kill $receiver 2>/dev/null || true' EXIT
for kind in folder dvcqg http; do
  data="$work/data-$kind"
  "$bin" --lang en --data "$data" ingest "$work/src" --profile "$work/base.toml" >/dev/null 2>&1
  "$bin" --lang en --data "$data" case import "$work/cases.csv" >/dev/null
  cp "$work/base.toml" "$work/$kind.toml"
  case $kind in
    folder) printf '[connector]\nkind = "folder"\nfolder = "%s"\n' "$work/exchange" >> "$work/$kind.toml" ;;
    dvcqg) printf '[connector]\nkind = "dvcqg"\nurl = "http://127.0.0.1:%s/"\npublic_url = "http://127.0.0.1:1"\n' "$port" >> "$work/$kind.toml" ;;
    http) printf '[connector]\nkind = "http"\nurl = "http://127.0.0.1:%s/"\n' "$port" >> "$work/$kind.toml" ;;
  esac
  start=$(date +%s.%N)
  "$bin" --lang en --data "$data" outbox send --profile "$work/$kind.toml" > "$work/$kind.out"
  end=$(date +%s.%N)
  python3 -c "import sys; n, s = int(sys.argv[1]), float(sys.argv[3]) - float(sys.argv[2]); print(f'{sys.argv[4]:6}  {n} entries  {s:6.2f} s  {n / s:7.1f} entries/s')" "$n" "$start" "$end" "$kind"
  grep -q "delivered $n," "$work/$kind.out" || { echo "not all delivered: $(cat "$work/$kind.out")"; exit 1; }
done
echo "receiver took $(curl -s "http://127.0.0.1:$port/") requests"
