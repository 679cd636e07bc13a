"""Runs copilot-lake and its peers on the same data, alternating runs, and prints the medians.

- end to end: `copilot-lake sync` and dlt (bench/dlt_sync.py) against one `copilot-lake
  simulate` with no rate limit;
- offline: DuckDB (bench/duckdb_flatten.py) on the pages that `cargo bench --bench pipeline --
  offline` saved and measured (its own medians are printed by that command).

Each run is a child process measured with os.wait4: wall time from start to exit, user plus
system CPU, and ru_maxrss (its peak RSS). Called by bench/compare.sh, which builds and installs
everything first.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

SINCE, UNTIL = "2026-10-01", "2026-12-01"


def measure(command: list[str], log: Path, env: dict | None = None) -> dict:
    """Runs `command` and returns its wall time, CPU time, peak RSS and stdout."""
    with open(log, "w") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=env, text=True)
        stdout = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    if status != 0:
        sys.exit(f"{command[0]} failed with status {status}; see {log}")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,
        "stdout": stdout,
        "load": os.getloadavg()[0],
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, limit: float) -> None:
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"the simulator is not listening on port {port} after {limit} s")


def report(name: str, runs: list[dict], interactions: int) -> dict:
    for index, run in enumerate(runs, 1):
        print(
            f"{name} run {index}: {interactions / run['wall']:9.0f} interactions/s, {run['cpu']:6.2f} CPU s, "
            f"peak RSS {run['rss_mib']:7.1f} MiB, {run['wall']:6.2f} s, load {run['load']:.2f}"
        )
    median = {key: statistics.median(run[key] for run in runs) for key in ("wall", "cpu", "rss_mib")}
    median["per_second"] = statistics.median(interactions / run["wall"] for run in runs)
    print(
        f"{name} median of {len(runs)}: {median['per_second']:.0f} interactions/s, {median['cpu']:.2f} CPU s "
        f"({median['cpu'] / interactions * 1e6:.1f} per M), peak RSS {median['rss_mib']:.1f} MiB, {median['wall']:.2f} s"
    )
    return median


def end_to_end(args, work: Path, python: str) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    simulator = subprocess.Popen(
        [args.copilot_lake, "simulate", "--listen", f"127.0.0.1:{port}", "--unlicensed-users", "0",
         "--users", str(args.users), "--interactions-per-user", str(args.per_user), "--start", SINCE, "--end", UNTIL],
        stdout=subprocess.DEVNULL, stderr=open(work / "simulator.log", "w"),
        env={**os.environ, "COPILOT_LAKE_LOG": "warn"},
    )
    try:
        wait_for_port(port, 300)
        env = {**os.environ, "COPILOT_LAKE_CLIENT_SECRET": "bench-secret", "COPILOT_LAKE_LOG": "warn"}
        runs = {"copilot-lake": [], "dlt": []}
        interactions = {}
        for _ in range(args.runs):
            lake = work / "lake-copilot"
            shutil.rmtree(lake, ignore_errors=True)
            summary = work / "summary.json"
            run = measure(
                [args.copilot_lake, "sync", "--out", str(lake), "--tenant-id", "contoso", "--client-id", "bench",
                 "--graph-url", f"{base_url}/v1.0", "--authority-url", base_url, "--since", SINCE, "--until", UNTIL,
                 "--max-requests-per-second", "1000000", "--no-progress", "--summary", str(summary)],
                work / "copilot-lake.log", env,
            )
            interactions["copilot-lake"] = json.loads(summary.read_text())["rows"]["interactions"]
            runs["copilot-lake"].append(run)

            shutil.rmtree(work / "lake-dlt", ignore_errors=True)
            shutil.rmtree(work / "dlt-pipelines", ignore_errors=True)
            run = measure(
                [python, str(Path(__file__).with_name("dlt_sync.py")), base_url, str(work / "lake-dlt"),
                 str(work / "dlt-pipelines"), "2026-09-30T23:59:59.999999Z", "2026-12-01T00:00:00Z"],
                work / "dlt.log",
            )
            interactions["dlt"] = json.loads(run["stdout"].strip().splitlines()[-1])["rows"]["interactions"]
            runs["dlt"].append(run)
    finally:
        simulator.terminate()
        simulator.wait()

    print(f"\nend to end, {args.users} users x {args.per_user} interactions, no rate limit")
    ours = report("copilot-lake", runs["copilot-lake"], interactions["copilot-lake"])
    theirs = report("dlt", runs["dlt"], interactions["dlt"])
    print(
        f"copilot-lake / dlt: {ours['per_second'] / theirs['per_second']:.1f}x the interactions/s, "
        f"{ours['rss_mib'] / theirs['rss_mib']:.2f}x the peak RSS"
    )


def offline(args, work: Path, python: str) -> None:
    pages = Path(args.pages)
    if not pages.is_dir():
        sys.exit(f"no saved pages at {pages}: run `cargo bench --bench pipeline -- offline` first")
    runs = []
    rows = None
    for _ in range(args.runs):
        out = work / "lake-duckdb"
        shutil.rmtree(out, ignore_errors=True)
        run = measure(
            [python, str(Path(__file__).with_name("duckdb_flatten.py")), str(pages), str(out), str(args.threads)],
            work / "duckdb.log",
        )
        rows = json.loads(run["stdout"].strip().splitlines()[-1])["rows"]
        runs.append(run)
    print(f"\noffline, DuckDB on {pages} with {args.threads} threads (process start to exit)")
    report("duckdb", runs, rows["interactions"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copilot-lake", required=True, help="the release binary")
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--pages", required=True, help="pages saved by the pipeline bench")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--per-user", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    args = parser.parse_args()
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()}")
    end_to_end(args, work, sys.executable)
    offline(args, work, sys.executable)


if __name__ == "__main__":
    main()
