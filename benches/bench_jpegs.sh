# Sourced by the benchmarks: `bench_jpegs DIR N` leaves N A4 300-dpi colour JPEGs of about 1.2 MB in
# DIR/H15.50.05.13-261008-0975/ (fixtures/generate.py's bench set), generated once and kept.
bench_jpegs() {
  local dir=$1 n=$2
  if [ ! -f "$dir/.done" ]; then
    rm -rf "$dir"; mkdir -p "$dir"
    echo "generating $n A4 300-dpi colour JPEGs …"
    python3 fixtures/generate.py "$dir/H15.50.05.13-261008-0975" bench "$n"
    touch "$dir/.done"
  fi
}
