#!/usr/bin/env bash
# Runs the whole test suite, twice: on the embedded default (SQLite, blobs in a folder), then the
# store-facing tests again on the scale-out backends — PostgreSQL (SOHOA_TEST_PG, default
# postgres://postgres@127.0.0.1:5432/test; each test gets a database of its own) with every blob in an
# S3-compatible bucket (a moto server this script starts on loopback; each test a prefix of its own).
# Installs what the tests need when it is missing: qpdf and poppler-utils (the PDF
# validators), tesseract-ocr (the orientation detector asked about pages the letters leave unsure) and
# tesseract-ocr-vie (the Vietnamese text layer of [ocr]), the PostgreSQL client, DejaVu fonts (Vietnamese text in the normalization fixtures),
# the Free, Noto and Liberation fonts (the independent evaluation generator, fixtures/evalgen),
# Chromium and ChromeDriver (the web page's browser test), Python with pip, Pillow and numpy (the
# fixture generators), img2pdf (scanner PDFs for the evaluation set) and schemathesis (the OpenAPI
# property test), jsonschema (the DVCQG body's schema), moto (the S3-compatible server). Extra arguments go to cargo.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v qpdf >/dev/null 2>&1 || need+=(qpdf)
command -v pdfimages >/dev/null 2>&1 || need+=(poppler-utils)
command -v tesseract >/dev/null 2>&1 || need+=(tesseract-ocr)
[ -f /usr/share/tesseract-ocr/5/tessdata/vie.traineddata ] || need+=(tesseract-ocr-vie)
command -v python3 >/dev/null 2>&1 || need+=(python3 python3-pip)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
[ -f /usr/share/fonts/truetype/freefont/FreeSerif.ttf ] || need+=(fonts-freefont-ttf)
[ -f /usr/share/fonts/truetype/noto/NotoSans-Regular.ttf ] || need+=(fonts-noto-core)
[ -f /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf ] || need+=(fonts-liberation)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} …"
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${need[@]}" >/dev/null
fi
pip_need=()
python3 -c 'import PIL' >/dev/null 2>&1 || pip_need+=(pillow)
python3 -c 'import numpy' >/dev/null 2>&1 || pip_need+=(numpy)
python3 -c 'import qrcode' >/dev/null 2>&1 || pip_need+=(qrcode)
python3 -c 'import jsonschema' >/dev/null 2>&1 || pip_need+=(jsonschema)
command -v img2pdf >/dev/null 2>&1 || pip_need+=(img2pdf)
command -v st >/dev/null 2>&1 || pip_need+=(schemathesis)
command -v moto_server >/dev/null 2>&1 || pip_need+=("moto[server]")
if [ ${#pip_need[@]} -gt 0 ]; then
  echo "installing ${pip_need[*]} …"
  python3 -m pip install -q "${pip_need[@]}" 2>/dev/null || python3 -m pip install -q --break-system-packages "${pip_need[@]}"
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sohoa/target}"

# The S3-compatible server, on a free loopback port, stopped when this script ends.
s3_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$s3_port" >/dev/null 2>&1 &
s3_pid=$!
trap 'kill $s3_pid 2>/dev/null || true' EXIT
export SOHOA_TEST_S3="http://127.0.0.1:$s3_port"
for _ in $(seq 1 100); do
  python3 -c "import urllib.request; urllib.request.urlopen('$SOHOA_TEST_S3')" >/dev/null 2>&1 && break
  sleep 0.2
done
echo "== SQLite =="
cargo test --locked "$@"

pg="${SOHOA_TEST_PG:-postgres://postgres@127.0.0.1:5432/test}"
if ! psql "$pg" -qAtc 'SELECT 1' >/dev/null 2>&1; then
  if [ -n "${SOHOA_REQUIRE_PG:-}" ]; then
    echo "PostgreSQL is not reachable at $pg; the suite must pass on both backends" >&2
    exit 1
  fi
  echo "PostgreSQL not reachable at $pg: skipping the PostgreSQL pass (set SOHOA_TEST_PG)" >&2
  exit 0
fi
# Databases earlier runs left behind (a test killed before cleaning up).
for db in $(psql "$pg" -qAtc "SELECT datname FROM pg_database WHERE datname LIKE 'sohoa\_t\_%'"); do
  psql "$pg" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
done
echo "== PostgreSQL and S3 =="
export SOHOA_TEST_STORE=s3
SOHOA_TEST_DATABASE="$pg" cargo test --locked --test store --test records --test api --test ingest --test cli --test doc --test outbox --test serve --test transient --test web --test openapi --test separators --test hostile --test s3 "$@"
# The page records normalization writes (a column of their own) and a blank page put back, on
# PostgreSQL too.
SOHOA_TEST_DATABASE="$pg" cargo test --locked --test pdfa "$@" -- the_archive_chain blank_pages
for db in $(psql "$pg" -qAtc "SELECT datname FROM pg_database WHERE datname LIKE 'sohoa\_t\_%'"); do
  psql "$pg" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
done
# The logins the fault tests make (one per test database, refused and given back).
for role in $(psql "$pg" -qAtc "SELECT rolname FROM pg_roles WHERE rolname LIKE 'sohoa\_r\_%'"); do
  psql "$pg" -qc "DROP ROLE IF EXISTS \"$role\"" >/dev/null
done
