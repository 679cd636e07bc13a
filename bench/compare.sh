#!/usr/bin/env bash
# Benchmarks copilot-lake against dlt and DuckDB on the same data; docs/benchmarks.md has the
# results. Installs the peers into bench/.venv (ignored by git), builds the release binary and
# the pipeline bench, measures copilot-lake offline, then runs bench/compare.py for the rest.
#
# Usage: bench/compare.sh [--runs N] [--users N] [--per-user N]
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=3 USERS=200 PER_USER=500
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --users) USERS="$2"; shift 2 ;;
    --per-user) PER_USER="$2"; shift 2 ;;
    *) echo "unknown option $1; expected --runs, --users or --per-user" >&2; exit 2 ;;
  esac
done

# Pinned so that reruns compare the same peers.
PEERS=("dlt[filesystem,parquet]==1.31.0" "duckdb==2.0.0" "pyarrow==26.0.1")
if [ ! -x bench/.venv/bin/python ]; then
  python3 -m venv bench/.venv
fi
bench/.venv/bin/pip install --quiet "${PEERS[@]}"

cargo build --release
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -h | awk '/Mem:/ {print $2}') memory"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

WORK=target/bench-pipeline
cargo bench --bench pipeline -- offline --users "$USERS" --per-user "$PER_USER" --runs "$RUNS"
bench/.venv/bin/python bench/compare.py --copilot-lake target/release/copilot-lake --work-dir "$WORK/compare" \
  --pages "$WORK/pages-${USERS}x${PER_USER}" --users "$USERS" --per-user "$PER_USER" --runs "$RUNS"
