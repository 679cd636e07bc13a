#!/usr/bin/env bash
# Stops the test servers that .ci/start-garage.sh and .ci/start-azurite.sh started from each DIR:
# SIGTERM, then SIGKILL after 10 seconds. The data stays in DIR; delete DIR to start afresh.
#
#   .ci/stop-servers.sh DIR...
set -uo pipefail

for dir in "$@"; do
    for pid_file in "$dir"/*.pid; do
        [ -f "$pid_file" ] || continue
        pid=$(cat "$pid_file")
        if kill -TERM "$pid" 2>/dev/null; then
            for attempt in $(seq 100); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -KILL "$pid" 2>/dev/null && echo "$pid_file: the server ignored SIGTERM and was killed" >&2
        fi
        rm -f "$pid_file"
    done
done
