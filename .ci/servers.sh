# Helpers shared by the scripts that start the object-store test servers. Source it; it defines
# functions only.

# Prints a TCP port on 127.0.0.1 that nothing listens on. Another process can still take it
# before the server binds it, so the callers fail loudly when the server does not come up. The
# port lies below the kernel's ephemeral range: a restarted server binds its port again, and an
# outgoing connection that took the port as its local port in between would make that fail.
free_port() {
    local port attempt ephemeral_low=32768
    read -r ephemeral_low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    for attempt in $(seq 100); do
        port=$((10000 + RANDOM % (ephemeral_low - 10000)))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "no free port found on 127.0.0.1" >&2
    return 1
}

# Waits until 127.0.0.1:PORT accepts connections. Fails, printing the server's panic message and
# the tail of LOG, when the process in PID_FILE exits first or after 60 seconds.
wait_for_port() {
    local port=$1 log=$2 pid_file=$3 waited=0
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        if ! is_running "$pid_file" || [ "$waited" -ge 600 ]; then
            echo "the server did not listen on 127.0.0.1:$port; end of $log:" >&2
            grep -m 3 -i "panicked" "$log" >&2 || true
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
