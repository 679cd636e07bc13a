#!/usr/bin/env bash
# Runs the page fuzz target for SECONDS seconds (default 60), installing cargo-fuzz when it is
# missing. Exits non-zero when libFuzzer finds a crash, a leak, a timeout or an input that needs
# more than the memory limit. The failing input is saved under fuzz/artifacts/page/.
#
# cargo fuzz passes nightly-only flags (-Zsanitizer=address); RUSTC_BOOTSTRAP=1 lets the stable
# toolchain accept them.
set -euo pipefail
seconds=${1:-60}
cd "$(dirname "$0")"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== Installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# The corpus starts from the recorded Graph fixtures: each file as it is, and wrapped as the
# `value` of a page, so record files become pages too. libFuzzer adds what it finds.
corpus=corpus/page
mkdir -p "$corpus"
for fixture in ../tests/fixtures/*.json; do
    name=$(basename "$fixture" .json)
    cp "$fixture" "$corpus/$name.json"
    { printf '{"value":['; cat "$fixture"; printf ']}'; } >"$corpus/$name-in-page.json"
    { printf '{"value":'; cat "$fixture"; printf '}'; } >"$corpus/$name-as-value.json"
done

export RUSTC_BOOTSTRAP=1
# The instrumented build of every dependency takes about 20 minutes on 2 cores, so it lives
# outside the work tree, where the next clone on this machine finds it.
target=${COPILOT_LAKE_FUZZ_TARGET_DIR:-$HOME/.cache/copilot-lake/fuzz-target}
echo "== Fuzzing the page parser and flattener for ${seconds}s (build in $target)"
# -rss_limit_mb: a page of -max_len bytes must never need anywhere near 2 GiB.
# -timeout: no single input may take 10 s.
cargo fuzz run --target-dir "$target" page "$corpus" -- \
    -max_total_time="$seconds" \
    -max_len=65536 \
    -rss_limit_mb=2048 \
    -timeout=10 \
    -dict=page.dict \
    -print_final_stats=1
