#!/usr/bin/env bash
# Starts a single-node Garage S3 server on 127.0.0.1 with a bucket and an access key for the
# object-store tests, and writes the variables the tests read to DIR/env.
#
#   .ci/start-garage.sh [DIR]      # DIR defaults to $TMPDIR/copilot-lake-garage
#   source DIR/env                 # AWS_*, COPILOT_LAKE_TEST_S3_URL, COPILOT_LAKE_TEST_GARAGE_*
#   .ci/stop-servers.sh DIR
#
# Run again on the same DIR, it restarts a stopped server with its data, ports and key, or does
# nothing when the server still runs. It does not install Garage: it looks for $GARAGE, then
# `garage` on PATH, then ~/.cargo/bin/garage (`cargo install garage --locked` builds it).
set -euo pipefail
source "$(dirname "$0")/servers.sh"

dir=${1:-${TMPDIR:-/tmp}/copilot-lake-garage}
bucket=copilot-lake-test
region=garage

garage=${GARAGE:-$(command -v garage || echo "$HOME/.cargo/bin/garage")}
if [ ! -x "$garage" ]; then
    echo "garage not found (looked at \$GARAGE, PATH and ~/.cargo/bin); install it with: cargo install garage --locked" >&2
    exit 1
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
config="$dir/garage.toml"
pid_file="$dir/garage.pid"
log="$dir/garage.log"

if is_running "$pid_file"; then
    echo "Garage already runs from $dir; source $dir/env"
    exit 0
fi

if [ ! -f "$config" ]; then
    s3_port=$(free_port)
    rpc_port=$(free_port)
    cat >"$config" <<EOF
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(openssl rand -hex 32)"

[s3_api]
s3_region = "$region"
api_bind_addr = "127.0.0.1:$s3_port"
EOF
fi
s3_port=$(sed -n 's/^api_bind_addr = "127.0.0.1:\([0-9]*\)"/\1/p' "$config")
rpc_port=$(sed -n 's/^rpc_bind_addr = "127.0.0.1:\([0-9]*\)"/\1/p' "$config")

start_detached "$pid_file" "$log" "$garage" -c "$config" server
wait_for_port "$rpc_port" "$log" "$pid_file"
wait_for_port "$s3_port" "$log" "$pid_file"

# The layout, bucket and key are made once per DIR; a restart keeps them.
if [ ! -f "$dir/env" ]; then
    cli() { "$garage" -c "$config" "$@"; }
    node_id=$(cli node id -q)
    cli layout assign -z dc1 -c 1G "${node_id%%@*}" >/dev/null
    cli layout apply --version 1 >/dev/null
    cli bucket create "$bucket" >/dev/null
    key_info=$(cli key create copilot-lake-test)
    key_id=$(awk -F': *' '/^Key ID:/ {print $2}' <<<"$key_info")
    secret=$(awk -F': *' '/^Secret key:/ {print $2}' <<<"$key_info")
    if [ -z "$key_id" ] || [ -z "$secret" ]; then
        echo "cannot read the key from 'garage key create'; its output format may have changed" >&2
        exit 1
    fi
    cli bucket allow --read --write --owner "$bucket" --key copilot-lake-test >/dev/null
    umask 077
    cat >"$dir/env" <<EOF
export COPILOT_LAKE_TEST_S3_URL=s3://$bucket
export COPILOT_LAKE_TEST_GARAGE_DIR=$dir
export AWS_ENDPOINT=http://127.0.0.1:$s3_port
export AWS_ALLOW_HTTP=true
export AWS_REGION=$region
export AWS_ACCESS_KEY_ID=$key_id
export AWS_SECRET_ACCESS_KEY=$secret
EOF
fi

# A restart can still be applying the layout; wait until the bucket responds.
for attempt in $(seq 100); do
    if "$garage" -c "$config" bucket info "$bucket" >/dev/null 2>&1; then
        echo "Garage S3 listens on http://127.0.0.1:$s3_port (bucket $bucket); source $dir/env"
        exit 0
    fi
    sleep 0.2
done
echo "Garage started but bucket $bucket is not ready; end of $log:" >&2
tail -n 20 "$log" >&2
exit 1
