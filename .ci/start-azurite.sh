#!/usr/bin/env bash
# Starts Azurite, Microsoft's Azure Blob Storage emulator, on 127.0.0.1 with a container for the
# object-store tests, and writes the variables the tests read to DIR/env.
#
#   .ci/start-azurite.sh [DIR]     # DIR defaults to $TMPDIR/copilot-lake-azurite
#   source DIR/env                 # AZURE_*, AZURITE_BLOB_STORAGE_URL, COPILOT_LAKE_TEST_AZURE_URL
#   .ci/stop-servers.sh DIR
#
# Azurite comes from the npm registry and is installed once into $COPILOT_LAKE_TOOLS
# (default ~/.cache/copilot-lake). Run again on the same DIR, the script restarts a stopped
# server with its data and port, or does nothing when the server still runs.
set -euo pipefail
source "$(dirname "$0")/servers.sh"

dir=${1:-${TMPDIR:-/tmp}/copilot-lake-azurite}
container=copilot-lake-test
azurite_version=3.35.0
# The emulator's fixed account and key, published in Microsoft's Azurite documentation.
account=devstoreaccount1
account_key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

tools=${COPILOT_LAKE_TOOLS:-$HOME/.cache/copilot-lake}/azurite-$azurite_version
azurite="$tools/node_modules/.bin/azurite-blob"
if [ ! -x "$azurite" ]; then
    echo "installing azurite $azurite_version into $tools"
    mkdir -p "$tools"
    # npm 11 ignores `--prefix DIR` for a folder without package.json, so give it one.
    echo '{"name": "copilot-lake-test-servers", "private": true}' >"$tools/package.json"
    (cd "$tools" && npm install --no-audit --no-fund --loglevel=error "azurite@$azurite_version")
fi

mkdir -p "$dir/data"
dir=$(cd "$dir" && pwd)
pid_file="$dir/azurite.pid"
log="$dir/azurite.log"
if is_running "$pid_file"; then
    echo "Azurite already runs from $dir; source $dir/env"
    exit 0
fi
if [ ! -f "$dir/port" ]; then
    free_port >"$dir/port"
fi
port=$(cat "$dir/port")
url="http://127.0.0.1:$port"

# --disableTelemetry: otherwise Azurite sends usage data to Application Insights.
start_detached "$pid_file" "$log" "$azurite" --blobHost 127.0.0.1 --blobPort "$port" \
    --location "$dir/data" --loose --skipApiVersionCheck --disableTelemetry
wait_for_port "$port" "$log" "$pid_file"

# Creates the container with a Shared Key signed request (Azure Storage REST API, "Create
# Container"); 409 means it exists from an earlier start.
create_container() {
    local date version=2021-08-06 string_to_sign hex_key signature status
    date=$(LC_ALL=C TZ=GMT date '+%a, %d %b %Y %H:%M:%S GMT')
    string_to_sign="PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:$date\nx-ms-version:$version\n/$account/$account/$container\nrestype:container"
    hex_key=$(printf '%s' "$account_key" | base64 -d | xxd -p -c 256)
    signature=$(printf "$string_to_sign" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hex_key" -binary | base64 -w0)
    status=$(curl -sS -o "$dir/create-container.xml" -w '%{http_code}' -X PUT \
        -H "x-ms-date: $date" -H "x-ms-version: $version" -H "Content-Length: 0" \
        -H "Authorization: SharedKey $account:$signature" "$url/$account/$container?restype=container")
    case "$status" in
        201 | 409) ;;
        *)
            echo "creating container $container failed with HTTP $status:" >&2
            cat "$dir/create-container.xml" >&2
            return 1
            ;;
    esac
}
create_container

umask 077
cat >"$dir/env" <<EOF
export COPILOT_LAKE_TEST_AZURE_URL=az://$container
export COPILOT_LAKE_TEST_AZURITE_DIR=$dir
export AZURE_STORAGE_USE_EMULATOR=true
export AZURITE_BLOB_STORAGE_URL=$url
export AZURE_STORAGE_ACCOUNT_NAME=$account
export AZURE_STORAGE_ACCOUNT_KEY=$account_key
EOF
echo "Azurite Blob listens on $url (container $container); source $dir/env"
