#!/usr/bin/env bash
# Scaling on the scale-out backends: one station capturing into PostgreSQL and an S3-compatible bucket
# (a moto server on loopback), then 1, 2 and 4 worker processes (`serve --role worker --workers 2`)
# rendering, on the passthrough counter profile and on the archive profile (every page normalized).
# For each run it prints capture pages/s (station alone), processing pages/s (workers), database
# transactions and S3 requests per page (from pg_stat_database and the S3 server's request log), and
# afterwards the latency from a file dropped into the inbox to its PDF attached, workers idle
# (the wake-up a PostgreSQL notification gives, with polling as the fallback).
#
#   benches/scale.sh [PAGES] [ARCHIVE_PAGES]      (defaults 400 and 120)
#
# Needs PostgreSQL at ${SOHOA_BENCH_PG:-postgres://postgres@127.0.0.1:5432}, moto (pip install
# "moto[server]"), Pillow. Work files go to ${BENCH_DIR:-/tmp/sohoa-scale-bench}. This is not a test:
# figures depend on the machine; the note in docs/deploy.md turns them into a capacity estimate.
set -euo pipefail
cd "$(dirname "$0")/.."
pages=${1:-400}
archive_pages=${2:-120}
work=${BENCH_DIR:-/tmp/sohoa-scale-bench}
pg=${SOHOA_BENCH_PG:-postgres://postgres@127.0.0.1:5432}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sohoa/target}"
cargo build --release --locked -q
bin="$CARGO_TARGET_DIR/release/sohoa"
command -v moto_server >/dev/null || python3 -m pip install -q "moto[server]"
mkdir -p "$work"

jpegs="$work/jpegs-$((pages + 5))"
. benches/bench_jpegs.sh
bench_jpegs "$jpegs" "$((pages + 5))"

python3 - "$bin" "$work" "$jpegs/H15.50.05.13-261008-0975" "$pages" "$archive_pages" "$pg" <<'PY'
import os, re, shutil, socket, statistics, subprocess, sys, time, urllib.request

bin, work, src, pages, archive_pages, pg = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
CODES = ["H15.50.05.13-261008-%04d" % (i + 1) for i in range(20)]

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

s3_port = free_port()
s3_log = open(os.path.join(work, "moto.log"), "w")
moto = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(s3_port)], stdout=s3_log, stderr=s3_log)
endpoint = f"http://127.0.0.1:{s3_port}"
for _ in range(100):
    try:
        urllib.request.urlopen(endpoint); break
    except Exception:
        time.sleep(0.2)
urllib.request.urlopen(urllib.request.Request(f"{endpoint}/sohoa-scale", method="PUT"))

def psql(db, sql, check=True):
    r = subprocess.run(["psql", f"{pg}/{db}", "-qAtc", sql], check=check, capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else ""

def s3_requests():
    s3_log.flush()
    counts = {}
    for line in open(os.path.join(work, "moto.log")):
        m = re.search(r'"(GET|PUT|HEAD|POST|DELETE) /sohoa-scale', line)
        if m:
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts

def profile(kind, inbox):
    p = os.path.join(work, f"{kind}.toml")
    if kind == "archive":
        text = open("pipelines/archive.toml").read()
        text = text.replace('path = "archive-scans"', f'path = "{inbox}"')
        text = text.replace('document = "folder"', 'document = "file"')
        # One document a file: a stack waiting for its next separator sheet would never close here.
        text = text.replace("detect = true", "detect = false")
        text = text.replace('path = "archive-quarantine"', f'path = "{work}/quarantine"')
    else:
        text = (f'name = "passthrough"\n[station]\nid = "bench"\n[inbox]\npath = "{inbox}"\n'
                'after_capture = "keep"\nstable_ms = 300\nrescan_seconds = 2\n[grouping]\ndocument = "file"\n')
    open(p, "w").write(text)
    return p

def cpu_seconds(pids):
    """User + system CPU seconds the processes have used so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except OSError:
            pass
    return total

def postgres_pids():
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if open(f"/proc/{pid}/comm").read().strip() == "postgres":
                    out.append(int(pid))
            except OSError:
                pass
    return out

def run(kind, n, workers):
    db = "sohoa_scale"
    psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {db}")
    root = os.path.join(work, f"run-{kind}-{workers}")
    shutil.rmtree(root, ignore_errors=True)
    inbox = os.path.join(root, "inbox")
    files = sorted(f for f in os.listdir(src) if f.endswith(".jpg"))[:n]
    for i, f in enumerate(files):
        d = os.path.join(inbox, CODES[i % len(CODES)])
        os.makedirs(d, exist_ok=True)
        os.link(os.path.join(src, f), os.path.join(d, f))
    prof = profile(kind, inbox)
    env = dict(os.environ, SOHOA_DATABASE=f"{pg}/{db}", SOHOA_STORE=f"s3://sohoa-scale/{kind}-{workers}",
               AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
               AWS_REGION="us-east-1", SOHOA_LISTEN="off", RUST_LOG="sohoa=warn")
    log = open(os.path.join(root, "serve.log"), "w")
    def member(name, *args):
        return subprocess.Popen([bin, "--data", os.path.join(root, name), "serve", "--profile", prof, *args],
                                env=env, stdout=log, stderr=log)
    before_s3 = s3_requests()
    xacts = lambda: int(psql(db, f"SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '{db}'"))
    t0 = time.monotonic()
    station = member("station", "--role", "station")
    while int(psql(db, "SELECT COUNT(*) FROM intakes", check=False) or 0) < n:
        time.sleep(0.1)
    t1 = time.monotonic()
    station_cpu = cpu_seconds([station.pid])
    time.sleep(1.0)  # pg_stat_database is flushed about once a second
    xact0 = xacts()
    pg_cpu0, s3_cpu0 = cpu_seconds(postgres_pids()), cpu_seconds([moto.pid])
    t1 = time.monotonic()
    procs = [member(f"worker-{k}", "--role", "worker", "--workers", "2") for k in range(workers)]
    while int(psql(db, "SELECT COUNT(*) FROM documents WHERE state = 'attached'") or 0) < n:
        time.sleep(0.1)
    t2 = time.monotonic()
    worker_cpu = cpu_seconds([p.pid for p in procs])
    pg_cpu, s3_cpu = cpu_seconds(postgres_pids()) - pg_cpu0, cpu_seconds([moto.pid]) - s3_cpu0
    time.sleep(1.0)  # pg_stat_database is flushed about once a second
    xact1 = xacts()
    after_s3 = s3_requests()
    s3 = {k: after_s3.get(k, 0) - before_s3.get(k, 0) for k in after_s3}
    attached = int(psql(db, "SELECT COUNT(*) FROM documents WHERE state = 'attached'"))
    # Latency: one file at a time into an idle set-up, from its drop to its PDF attached.
    lat = []
    if kind == "passthrough":
        extra = sorted(f for f in os.listdir(src) if f.endswith(".jpg"))[n:n + 5]
        for f in extra:
            d = os.path.join(inbox, "H15.50.05.13-261009-0001")
            os.makedirs(d, exist_ok=True)
            before = int(psql(db, "SELECT COUNT(*) FROM documents WHERE state = 'attached'"))
            t = time.monotonic()
            tmp = os.path.join(root, f)
            shutil.copy(os.path.join(src, f), tmp)
            os.rename(tmp, os.path.join(d, f))
            while int(psql(db, "SELECT COUNT(*) FROM documents WHERE state = 'attached'")) <= before:
                time.sleep(0.01)
            lat.append(time.monotonic() - t)
            time.sleep(1.5)
    for p in procs + [station]:
        p.terminate()
    for p in procs + [station]:
        p.wait()
    cap = n / (t1 - t0)
    proc = n / (t2 - t1)
    reqs = sum(s3.values())
    line = (f"{kind:11s} {workers} worker(s): {n} pages, capture {cap:6.1f} pages/s (station alone), "
            f"processing {proc:6.1f} pages/s, {attached} attached; "
            f"{(xact1 - xact0) / n:5.1f} db transactions/page while processing; "
            f"S3 {reqs / n:4.1f} requests/page ({', '.join(f'{k} {v}' for k, v in sorted(s3.items()))}); "
            f"CPU ms/page: station {station_cpu * 1000 / n:.0f} (capture), workers {worker_cpu * 1000 / n:.0f}, PostgreSQL {pg_cpu * 1000 / n:.0f}, S3 server {s3_cpu * 1000 / n:.0f}")
    if lat:
        line += f"; drop-to-attached {statistics.median(lat) * 1000:.0f} ms median of {len(lat)}"
    print(line, flush=True)

try:
    for kind, n in (("passthrough", pages), ("archive", archive_pages)):
        for workers in (1, 2, 4):
            run(kind, n, workers)
finally:
    moto.terminate()
PY
