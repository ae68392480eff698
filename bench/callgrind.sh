#!/bin/bash
# callgrind.sh -- the worker's instructions per request (issue 13), counted
# by valgrind's callgrind: instruction counts are stable on a noisy machine
# where timings are not.  Not part of `make test` or `make bench`.
#
#   bench/callgrind.sh [N]
#
# Brings up build/berth behind the generated nginx (nginx/serve.sh) with
# one worker, seeds bench/app:latest (a 1 KiB layer) and 200 tags, then
# runs the pool under callgrind and, for each read below, zeroes the
# worker's counters (callgrind_control -z), sends N requests (1000) over
# keep-alive client connections with ab, dumps the counters and prints
# instructions per request:
#   manifest GET by tag, manifest HEAD by digest, blob HEAD, tags list (200)
# CALLGRIND_KEEP=1 keeps the work directory (the dumps, for
# callgrind_annotate).  Environment: BERTH (build/berth).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
PY=/usr/bin/python3
BERTH=${BERTH:-build/berth}
N=${1:-1000}
ACCEPT="application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"

for t in valgrind callgrind_control ab nginx curl; do
	command -v "$t" >/dev/null || { echo "callgrind: $t missing" >&2; exit 1; }
done
W=$(mktemp -d "${TMPDIR:-/tmp}/berth-callgrind.XXXXXX")
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
B=127.0.0.1:$PORT
vg=""
cleanup() {
	set +e
	[ -n "$vg" ] && kill "$vg" && wait "$vg" 2>/dev/null
	DATA_DIR=$W/berth BERTH=$BERTH nginx/serve.sh stop >/dev/null 2>&1
	if [ "${CALLGRIND_KEEP:-0}" = 1 ]; then
		echo "callgrind: kept $W" >&2
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT

PORT=$PORT DATA_DIR=$W/berth BERTH=$BERTH WORKERS=1 nginx/serve.sh start >&2
head -c 1024 /dev/urandom > "$W/layer"
seed=$($PY bench/client.py seed "$B" bench/app latest "$W/layer")
jf() { $PY -c 'import json,sys; v=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }
MDIG=$(jf "$seed" 'v["manifest_digest"]')
LDIG=$(jf "$seed" 'v["layers"][0]["digest"]')
jf "$seed" 'v["manifest"]' > "$W/manifest.json"
$PY bench/client.py tags "$B" bench/app "$W/manifest.json" 199 >/dev/null

# The pool's worker, now under callgrind: stop serve.sh's pool and run one
# worker on a socket of its own at the same path (nginx stays), given as
# its stdin as spawn-fcgi would (main.c: FastCGI on an inherited socket).
# One process, no fork: callgrind_control reaches it (not a forked child).
pool=$(cat "$W/berth/run/berth.pid")
kill "$pool"
while kill -0 "$pool" 2>/dev/null; do sleep 0.1; done
$PY - "$W/berth/run/berth.sock" "$W" "$BERTH" <<'EOF' 2> "$W/valgrind.log" &
import os, socket, sys
path, w, berth = sys.argv[1:4]
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(128)
os.dup2(s.fileno(), 0)
os.execvp("valgrind", ["valgrind", "--tool=callgrind",
                       "--callgrind-out-file=%s/cg.%%p" % w,
                       berth, "-d", w + "/berth"])
EOF
vg=$!
for _ in $(seq 300); do
	callgrind_control "$vg" 2>/dev/null | grep -q "PID $vg" && break
	sleep 0.1
done
worker=$vg
curl -fsS -o /dev/null -H "Accept: $ACCEPT" "http://$B/v2/bench/app/manifests/latest"

printf '%-28s %12s %8s\n' "request" "instr/req" "N"
for what in "manifest GET by tag|GET|manifests/latest" \
    "manifest HEAD by digest|HEAD|manifests/$MDIG" \
    "blob HEAD|HEAD|blobs/$LDIG" \
    "tags list (200)|GET|tags/list"; do
	IFS='|' read -r label method path <<< "$what"
	url="http://$B/v2/bench/app/$path"
	flag=""
	[ "$method" = HEAD ] && flag=-i
	ab $flag -k -q -c 2 -n 20 -H "Accept: $ACCEPT" "$url" >/dev/null # warm
	# callgrind acts on a command when the worker next runs, not while
	# it sleeps in ppoll: the zeroing takes effect at the first request
	# below, the dump at the one request after them.
	callgrind_control -z "$worker" >/dev/null 2>&1
	ab $flag -k -q -c 2 -n "$N" -H "Accept: $ACCEPT" "$url" > "$W/ab.out"
	grep -q '^Non-2xx responses' "$W/ab.out" && { cat "$W/ab.out" >&2; exit 1; }
	rm -f "$W/cg.$worker".[0-9]*
	callgrind_control --dump="${label//[^a-zA-Z0-9]/_}" "$worker" >/dev/null 2>&1
	curl -fsS -o /dev/null "http://$B/v2/"
	f=""
	for _ in $(seq 100); do
		f=$(find "$W" -maxdepth 1 -name "cg.$worker.[0-9]*" | head -1)
		[ -n "$f" ] && break
		sleep 0.1
	done
	[ -n "$f" ] || { echo "callgrind: no dump from $worker" >&2; exit 1; }
	sleep 0.2
	total=$(sed -n 's/^totals: *//p; s/^summary: *//p' "$f" | head -1)
	printf '%-28s %12d %8d\n' "$label" $((total / N)) "$N"
	cp "$f" "$W/dump-${label// /_}"
done
