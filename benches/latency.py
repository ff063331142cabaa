#!/usr/bin/env python3
"""Counter latency and sustained throughput of `sohoa serve`.

    python3 benches/latency.py [--drops 200] [--burst 300]

1. Latency: single-page A4 300-dpi JPEGs are dropped one at a time into a case folder of the inbox; for
   each, the time from the writer's close() to its PDF being committed (the case-folder view appears
   right after the commit) is measured. Prints p50/p90/p99/max. The counter profile's stability delay
   does not apply: the writer's close is seen (inotify close-write), and the file is whole.
2. Throughput: a burst of files across 10 station case folders at once; prints pages/s until all are
   attached — the capacity to compare with 10 stations × 60 pages/min = 10 pages/s.

Needs Pillow. Uses the release build (built if missing).
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures"))
import generate  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--drops", type=int, default=200)
ap.add_argument("--burst", type=int, default=300)
args = ap.parse_args()

root = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/sohoa/target"))
subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=root, check=True, env={**os.environ, "CARGO_TARGET_DIR": target})
binary = os.path.join(target, "release", "sohoa")

work = tempfile.mkdtemp(prefix="sohoa-latency-")
inbox, data = os.path.join(work, "inbox"), os.path.join(work, "data")
os.makedirs(inbox)
pages = []
for k in range(8):
    p = os.path.join(work, f"src-{k}.jpg")
    generate.noisy(generate.page(generate.A4_300, seed=300 + k), seed=400 + k).save(p, quality=85, dpi=(300, 300))
    pages.append(open(p, "rb").read())
print(f"page size {len(pages[0]) / 1e6:.2f} MB; {os.cpu_count()} cores")

log = open(os.path.join(work, "serve.log"), "w")
serve = subprocess.Popen([binary, "--data", data, "-q", "serve", "--inbox", inbox], stdout=log, stderr=log)
time.sleep(1.0)

def unique(i):
    b = bytearray(pages[i % len(pages)])
    b[-3] = i % 256  # inside the entropy-coded data's last bytes: a different hash per drop
    b[-4] = (i // 256) % 256
    return bytes(b)

def drop(case, name, body):
    d = os.path.join(inbox, case)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(body)
    return time.monotonic()

def wait_for(path, limit=30):
    t = time.monotonic()
    while not os.path.exists(path):
        if time.monotonic() - t > limit:
            raise SystemExit(f"timed out waiting for {path}")
        time.sleep(0.001)
    return time.monotonic()

case = "H15.50.05.13-261008-0975"
lat = []
for i in range(args.drops):
    t0 = drop(case, f"p{i:04}.jpg", unique(i))
    t1 = wait_for(os.path.join(data, "cases", case, f"{case}.{i + 1:03}.pdf"))
    lat.append((t1 - t0) * 1000)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p / 100 * len(lat)))]
print(f"latency close→committed over {len(lat)} drops: p50 {q(50):.0f} ms, p90 {q(90):.0f} ms, p99 {q(99):.0f} ms, max {lat[-1]:.0f} ms")

cases = [f"H15.50.05.13-261009-{k:04}" for k in range(1, 11)]
t0 = time.monotonic()
for i in range(args.burst):
    drop(cases[i % 10], f"b{i:04}.jpg", unique(10_000 + i))
for k, c in enumerate(cases):
    n = len([i for i in range(args.burst) if i % 10 == k])
    wait_for(os.path.join(data, "cases", c, f"{c}.{n:03}.pdf"), limit=300)
s = time.monotonic() - t0
print(f"burst of {args.burst} pages over 10 stations: {s:.1f} s = {args.burst / s:.0f} pages/s "
      f"(10 stations × 60 pages/min needs 10 pages/s)")
serve.terminate()
serve.wait(timeout=10)
shutil.rmtree(work)
