# Helpers shared by the scripts that start the object-store test servers. Source it; it defines
# functions only.

# Prints a TCP port on 127.0.0.1 that nothing listens on. Another process can still take it
# before the server binds it, so the callers fail loudly when the server does not come up.
free_port() {
    local port attempt
    for attempt in $(seq 100); do
        port=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "no free port found on 127.0.0.1" >&2
    return 1
}

# Waits until 127.0.0.1:PORT accepts connections, or fails after SECONDS (default 60) and prints
# the tail of LOG.
wait_for_port() {
    local port=$1 log=$2 seconds=${3:-60} waited=0
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        if [ "$waited" -ge $((seconds * 10)) ]; then
            echo "the server did not listen on 127.0.0.1:$port within ${seconds}s; end of $log:" >&2
            tail -n 20 "$log" >&2 || true
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

# Starts COMMAND... in the background, detached from the caller's terminal and pipes, with its
# output in LOG and its process id in PID_FILE.
start_detached() {
    local pid_file=$1 log=$2
    shift 2
    nohup "$@" </dev/null >>"$log" 2>&1 &
    echo $! >"$pid_file"
}

# Succeeds when PID_FILE names a process that is still running; a killed process that its parent
# has not reaped yet (a zombie) does not count.
is_running() {
    local pid_file=$1 state
    [ -f "$pid_file" ] || return 1
    state=$(ps -o stat= -p "$(cat "$pid_file")" 2>/dev/null) || return 1
    [[ $state != Z* ]]
}
