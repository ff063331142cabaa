#!/usr/bin/env bash
# Runs the whole test suite. Installs what the tests need when it is missing: qpdf and poppler-utils
# (the PDF validators), Python with Pillow (the fixture generator). Extra arguments go to cargo.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v qpdf >/dev/null 2>&1 || need+=(qpdf)
command -v pdfimages >/dev/null 2>&1 || need+=(poppler-utils)
command -v python3 >/dev/null 2>&1 || need+=(python3 python3-pip)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} …"
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! python3 -c 'import PIL' >/dev/null 2>&1; then
  echo "installing Pillow …"
  python3 -m pip install -q pillow 2>/dev/null || python3 -m pip install -q --break-system-packages pillow
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sohoa/target}"
cargo test --locked "$@"
