#!/bin/bash
# run.sh -- berth against its peer and its ceilings, on loopback, in one run
# (issue #5).  `make bench` runs it; see README.md, "Benchmarks".
#
#   berth     build/berth behind nginx, as nginx/serve.sh starts it
#   peer      Debian's docker-registry (CNCF Distribution 2.8), filesystem
#   s3        berth with blob_handler = s3 against the fs handler and the
#             object store itself (bench/s3.sh, hosting/s3-local.sh)
#   ceiling   nginx serving berth's blob files as a plain directory and a
#             static 1 KiB file, and nginx alone accepting an upload body
#             to disk; openssl sha256
#
# Environment: BENCH_QUICK=1 (a short run, under 2 minutes), BERTH
# (build/berth), BENCH_WORKERS (4), BENCH_OUT (var/bench), BENCH_KEEP=1
# (keep the temporary directory), BENCH_TAGS (10000; 1000 when quick),
# BENCH_ONLY=reads (only the request-rate figures against nginx's static
# 1 KiB file, issue 13: seconds, for trying a change).
# Prints one table; writes var/bench/<UTC time>.json, latest.json and a
# PNG chart beside them.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

PY=/usr/bin/python3		# Debian's, with its standard library whole
QUICK=${BENCH_QUICK:-0}
ONLY=${BENCH_ONLY:-}
BERTH=${BERTH:-build/berth}
WORKERS=${BENCH_WORKERS:-4}
OUT=${BENCH_OUT:-var/bench}
if [ "$QUICK" = 1 ]; then
	DUR=2 RUNS=1 NFILL=${BENCH_TAGS:-1000} BIG=$((256 << 20)) BIGNAME=256MiB
	LISTRUNS=3 CGIRUNS=100
else
	DUR=10 RUNS=3 NFILL=${BENCH_TAGS:-10000} BIG=$((1 << 30)) BIGNAME=1GiB
	LISTRUNS=10 CGIRUNS=500
fi
CONNS=32	# request-rate figures: 32 connections, 2 threads
BCONNS=4	# blob GETs

[ -x "$BERTH" ] || { echo "bench: $BERTH is not built" >&2; exit 1; }
for t in wrk gnuplot hyperfine docker-registry nginx openssl curl; do
	command -v "$t" >/dev/null || { echo "bench: $t missing" >&2; exit 1; }
done

ts=$(date -u +%Y%m%dT%H%M%SZ)
BENCH_LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)	# other work on the machine
export BENCH_LOAD_START
mkdir -p "$OUT"
W=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench.XXXXXX")
R=$W/results.jsonl
: > "$R"
log() { printf '%s bench: %s\n' "$(date -u +%T)" "$*" >&2; }

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
BPORT=$(free_port) PPORT=$(free_port) CPORT=$(free_port)
while [ "$PPORT" = "$BPORT" ]; do PPORT=$(free_port); done
while [ "$CPORT" = "$BPORT" ] || [ "$CPORT" = "$PPORT" ]; do CPORT=$(free_port); done
B=127.0.0.1:$BPORT P=127.0.0.1:$PPORT C=127.0.0.1:$CPORT

peer_pid=""
cleanup() {
	set +e
	DATA_DIR=$W/berth BERTH=$BERTH nginx/serve.sh stop >/dev/null 2>&1
	[ -f "$W/ceiling/nginx.pid" ] && kill "$(cat "$W/ceiling/nginx.pid")"
	[ -n "$peer_pid" ] && kill "$peer_pid" && wait "$peer_pid" 2>/dev/null
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		log "kept $W"
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Results: one JSON line per figure ----------------------------------
# put KEY LABEL UNIT BETTER BERTH PEER CEILING [CEILING_NAME]
put() {
	$PY - "$@" >> "$R" <<'EOF'
import json, sys
k, label, unit, better, b, p, c = sys.argv[1:8]
cn = sys.argv[8] if len(sys.argv) > 8 else ""
num = lambda v: None if v in ("", "-") else float(v)
print(json.dumps({"key": k, "label": label, "unit": unit, "better": better,
                  "berth": num(b), "peer": num(p), "ceiling": num(c),
                  "ceiling_name": cn}))
EOF
}

# wrk URL CONNS [METHOD] -> the JSON line of bench/wrk.lua, plus rate
wrkj() {
	local url=$1 conns=$2 method=${3:-GET} line
	line=$(WRK_METHOD=$method WRK_ACCEPT=$ACCEPT wrk -t2 -c"$conns" \
	    -d"${DUR}s" --timeout 60s -s bench/wrk.lua "$url" | sed -n 's/^WRKJSON //p')
	[ -n "$line" ] || { echo "bench: wrk gave nothing for $url" >&2; exit 1; }
	echo "$line"
}
# field JSON NAME [expr on v]
jf() { $PY -c 'import json,sys; v=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }
rate() { jf "$1" 'v["requests"]*1e6/v["duration_us"]'; }
brate() { jf "$1" 'v["bytes"]*1e6/v["duration_us"]'; }
p50() { jf "$1" 'v["p50_us"]/1000'; }
p99() { jf "$1" 'v["p99_us"]/1000'; }
errs() { jf "$1" 'v["err_status"]+v["err_read"]+v["err_connect"]+v["err_timeout"]'; }
check() {	# a figure made of errors is no figure
	local what=$1 j=$2 e
	e=$(errs "$j")
	[ "$e" = 0 ] || log "WARNING: $what: $e errors ($j)"
	[ "$(jf "$j" 'v["requests"]')" != 0 ] || log "WARNING: $what: no request completed"
}
# abj URL CONNS -> HEAD requests with ab (wrk cannot read HEAD answers: it
# waits for the body their Content-Length announces), as wrk.lua's JSON.
abj() {
	local url=$1 conns=$2
	ab -i -k -q -c "$conns" -t "$DUR" -n 100000000 -e "$W/ab.csv" \
	    -H "Accept: $ACCEPT" "$url" > "$W/ab.out" 2>&1 ||
	    { cat "$W/ab.out" >&2; exit 1; }
	$PY bench/abjson.py "$W/ab.out" "$W/ab.csv"
}
ACCEPT="application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"

# --- Server CPU: every process of a server's tree (bench/cpu.py) ---------
# The pids whose trees make up each server: berth is its pool and its
# nginx, the peer one process, the ceiling its nginx.
server_pids() {
	case $1 in
	"$B") echo "$(cat "$W/berth/run/berth.pid") $(cat "$W/berth/run/nginx.pid")" ;;
	"$P") echo "$peer_pid" ;;
	"$C") cat "$W/ceiling/nginx.pid" ;;
	esac
}
# cpu_of HOST:PORT GENERATOR URL CONNS -> the generator's JSON line with
# "cpu_us": the server's CPU time (user + system, all its processes)
# over the load test, in microseconds.
cpu_of() {
	local srv=$1 c0 c1 j
	shift
	# shellcheck disable=SC2046
	c0=$($PY bench/cpu.py $(server_pids "$srv"))
	j=$("$@")
	# shellcheck disable=SC2046
	c1=$($PY bench/cpu.py $(server_pids "$srv"))
	$PY -c 'import json,sys; v=json.loads(sys.argv[1]); v["cpu_us"]=int(sys.argv[2]); print(json.dumps(v))' \
	    "$j" "$((c1 - c0))"
}
cpu_per() { jf "$1" 'v["cpu_us"]/v["requests"] if v["requests"] else ""'; }

# --- Memory: every process of a server together (bench/mem.py) -----------
memory() {	# memory rest|after
	local when=$1 bpid npid cnpid b pool p c
	bpid=$(cat "$W/berth/run/berth.pid") npid=$(cat "$W/berth/run/nginx.pid")
	cnpid=$(cat "$W/ceiling/nginx.pid")
	b=$($PY bench/mem.py "$bpid" "$npid") pool=$($PY bench/mem.py "$bpid")
	p=$($PY bench/mem.py "$peer_pid") c=$($PY bench/mem.py "$cnpid")
	log "memory $when: berth+nginx $b; pool $pool; peer $p; nginx alone $c"
	put "mem_resident_$when" "resident, all processes, $when" MB lower \
	    "$(jf "$b" 'v["resident"]')" "$(jf "$p" 'v["resident"]')" \
	    "$(jf "$c" 'v["resident"]')" "nginx alone"
	put "mem_pool_resident_$when" "berth pool (parent+$WORKERS workers) resident, $when" \
	    MB lower "$(jf "$pool" 'v["resident"]')" "$(jf "$p" 'v["resident"]')" "" ""
	put "mem_pool_rss_$when" "berth pool, sum of RSS, $when" MB lower \
	    "$(jf "$pool" 'v["rss"]')" "$(jf "$p" 'v["rss"]')" "" ""
	put "mem_pool_pss_$when" "berth pool, sum of PSS, $when" MB lower \
	    "$(jf "$pool" 'v["pss"]')" "$(jf "$p" 'v["pss"]')" "" ""
}

# --- Start the three servers ------------------------------------------------
log "work directory $W; berth $B, peer $P, ceiling $C; quick=$QUICK"
mkdir -p "$W/berth" "$W/peer" "$W/ceiling/sink" "$W/ceiling/static" "$W/data"
head -c 1024 /dev/urandom > "$W/ceiling/static/1k"
PORT=$BPORT DATA_DIR=$W/berth BERTH=$BERTH WORKERS=$WORKERS nginx/serve.sh start >&2

sed -e "s|@ROOT@|$W/peer/storage|" -e "s|@PORT@|$PPORT|" bench/registry.yml.in \
    > "$W/peer/config.yml"
docker-registry serve "$W/peer/config.yml" 2> "$W/peer/registry.log" &
peer_pid=$!

if [ "$(id -u)" = 0 ]; then user_line="user root;"; else user_line=""; fi
sed -e "s|@DIR@|$W/ceiling|g" -e "s|@SINK_DIR@|$W/ceiling/sink|g" \
    -e "s|@PORT@|$CPORT|g" -e "s|@BLOBS@|$W/berth/blobs|g" \
    -e "s|@USER_LINE@|$user_line|g" bench/nginx-ceiling.conf.in > "$W/ceiling/nginx.conf"
nginx -p "$W/ceiling" -c "$W/ceiling/nginx.conf" -e "$W/ceiling/nginx-error.log"

for i in $(seq 100); do
	curl -fsS -o /dev/null "http://$P/v2/" 2>/dev/null && break
	kill -0 "$peer_pid" || { cat "$W/peer/registry.log" >&2; exit 1; }
	sleep 0.1
done
curl -fsS -o /dev/null "http://$P/v2/"

# --- Data --------------------------------------------------------------------
if [ "$ONLY" = reads ]; then	# the read figures need no big blob
	log "generating blobs (1 KiB and 2 KiB: BENCH_ONLY=reads)"
	head -c 1024 /dev/urandom > "$W/data/blob64"
	head -c 2048 /dev/urandom > "$W/data/blobbig"
else
	log "generating blobs (64 MiB, $BIGNAME, 256 MiB push body)"
	head -c $((64 << 20)) /dev/urandom > "$W/data/blob64"
	head -c "$BIG" /dev/urandom > "$W/data/blobbig"
	head -c $((256 << 20)) /dev/urandom > "$W/data/push256"
fi

log "seeding both registries: bench/app:latest with both blobs"
$PY bench/client.py seed "$B" bench/app latest "$W/data/blob64" "$W/data/blobbig" > "$W/seed-berth.json"
$PY bench/client.py seed "$P" bench/app latest "$W/data/blob64" "$W/data/blobbig" > "$W/seed-peer.json"
cmp -s <(jf "$(cat "$W/seed-berth.json")" 'v["manifest_digest"]') \
    <(jf "$(cat "$W/seed-peer.json")" 'v["manifest_digest"]')
seed=$(cat "$W/seed-berth.json")
MDIG=$(jf "$seed" 'v["manifest_digest"]')
D64=$(jf "$seed" 'v["layers"][0]["digest"]')
DBIG=$(jf "$seed" 'v["layers"][1]["digest"]')
jf "$seed" 'v["manifest"]' > "$W/data/manifest.json"
static_path() { local h=${1#sha256:}; echo "/blobs/sha256/${h:0:2}/$h"; }
for u in "http://$C$(static_path "$D64")" "http://$C$(static_path "$DBIG")"; do
	curl -fsS -o /dev/null "$u" || { echo "bench: ceiling cannot send $u" >&2; exit 1; }
done

sleep 1
memory rest

# --- Reads against nginx serving a static 1 KiB file (issues 5, 13) -----
# The same request rates for berth, the peer and the ceiling nginx
# answering a static 1 KiB file from the same run: GET with wrk, HEAD with
# ab (each registry's HEAD against static HEAD, so that the tool is the
# same).  Server CPU per request: every process of the server (berth: its
# nginx and its pool) over the load test, from /proc (bench/cpu.py).
# The tags list is of bench/app with 200 tags (latest and t00000..t00198;
# the tags fill further down reuses those names).
log "200 tags in bench/app in each registry"
for reg in "$B" "$P"; do
	$PY bench/client.py tags "$reg" bench/app "$W/data/manifest.json" 199 >&2
done
log "nginx static 1 KiB: GET (wrk) and HEAD (ab)"
jsg=$(cpu_of "$C" wrkj "http://$C/static/1k" $CONNS); check "static GET" "$jsg"
jsh=$(cpu_of "$C" abj "http://$C/static/1k" $CONNS); check "static HEAD" "$jsh"
for what in "manifest_get_tag|manifest GET by tag|GET|manifests/latest" \
    "manifest_get_digest|manifest GET by digest|GET|manifests/$MDIG" \
    "manifest_head_digest|manifest HEAD by digest|HEAD|manifests/$MDIG" \
    "blob_head|blob HEAD|HEAD|blobs/$D64" \
    "tags200|tags list (200 tags)|GET|tags/list"; do
	IFS='|' read -r key label method path <<< "$what"
	log "$label"
	if [ "$method" = HEAD ]; then gen=abj js=$jsh; else gen=wrkj js=$jsg; fi
	sname="nginx static 1 KiB $method"
	jb=$(cpu_of "$B" $gen "http://$B/v2/bench/app/$path" $CONNS); check "berth $key" "$jb"
	jp=$(cpu_of "$P" $gen "http://$P/v2/bench/app/$path" $CONNS); check "peer $key" "$jp"
	put "${key}_rps" "$label, req/s" req/s higher "$(rate "$jb")" "$(rate "$jp")" \
	    "$(rate "$js")" "$sname"
	[ "$key" = manifest_get_tag ] && base_rps=$(rate "$jb")
	put "${key}_p50" "$label, p50" ms lower "$(p50 "$jb")" "$(p50 "$jp")" \
	    "$(p50 "$js")" "$sname"
	put "${key}_p99" "$label, p99" ms lower "$(p99 "$jb")" "$(p99 "$jp")" \
	    "$(p99 "$js")" "$sname"
	put "${key}_cpu" "$label, server CPU per request" us lower \
	    "$(cpu_per "$jb")" "$(cpu_per "$jp")" "$(cpu_per "$js")" "$sname"
done
if [ "$ONLY" = reads ]; then
	$PY bench/report.py "$R" "$OUT" "$ts" "$QUICK" "$WORKERS"
	exit 0
fi

# --- Manifest GETs while slow uploads are in flight (issue 11) -------------
# SLOWN chunked PATCHes trickle in at 20 KB/s each for the whole load test;
# nginx receives them, so berth's workers stay free.  Against berth's own
# unloaded rate (the "ceiling" column) and the peer under the same load.
SLOWN=64
for reg in "$B" "$P"; do
	log "manifest GET by tag with $SLOWN slow uploads in flight ($reg)"
	$PY bench/client.py slow "$reg" bench/slow --count $SLOWN --rate 20000 \
	    --seconds $((DUR + 3)) > "$W/slow.json" &
	slowpid=$!
	sleep 2
	j=$(wrkj "http://$reg/v2/bench/app/manifests/latest" $CONNS); check "slow-loaded $reg" "$j"
	wait $slowpid
	log "  slow uploads: $(cat "$W/slow.json")"
	[ "$(jf "$(cat "$W/slow.json")" 'v["accepted"]')" = $SLOWN ] ||
	    log "WARNING: not every slow upload was accepted"
	if [ "$reg" = "$B" ]; then jsb=$j; else jsp=$j; fi
done
put manifest_get_slow_rps "manifest GET by tag, $SLOWN slow uploads in flight, req/s" \
    req/s higher "$(rate "$jsb")" "$(rate "$jsp")" "$base_rps" "berth without the slow load"
put manifest_get_slow_p99 "manifest GET by tag, $SLOWN slow uploads in flight, p99" \
    ms lower "$(p99 "$jsb")" "$(p99 "$jsp")" ""

# --- Blob GETs ---------------------------------------------------------------
for what in "blob_get_64MiB|$D64" "blob_get_$BIGNAME|$DBIG"; do
	IFS='|' read -r key dig <<< "$what"
	log "$key"
	jc=$(wrkj "http://$C$(static_path "$dig")" $BCONNS); check "ceiling $key" "$jc"
	jb=$(wrkj "http://$B/v2/bench/app/blobs/$dig" $BCONNS); check "berth $key" "$jb"
	jp=$(wrkj "http://$P/v2/bench/app/blobs/$dig" $BCONNS); check "peer $key" "$jp"
	put "$key" "${key#blob_get_} blob GET" MB/s higher \
	    "$($PY -c "print($(brate "$jb")/1e6)")" "$($PY -c "print($(brate "$jp")/1e6)")" \
	    "$($PY -c "print($(brate "$jc")/1e6)")" "nginx static"
done

# --- Pushes ------------------------------------------------------------------
log "openssl sha256, one core"
sha=$(openssl speed -seconds "$DUR" -bytes 16384 -evp sha256 2>/dev/null | tail -1 |
    awk '{v = $NF; sub(/k$/, "", v); print v * 1000 / 1e6}')
log "push ceiling: nginx alone, body to disk"
sink=$($PY bench/client.py sink "$C" /sink "$W/data/push256" --runs "$RUNS")
sinkr=$(jf "$sink" 'v["bytes_per_s"]/1e6')
sinkf=$($PY bench/client.py sink "$C" /sink "$W/data/push256" --runs "$RUNS" \
    --fsync-dir "$W/ceiling/sink")
sinkfr=$(jf "$sinkf" 'v["bytes_per_s"]/1e6')
# What berth could reach if nginx handed it the body file (DESIGN.md,
# pitfalls): nginx writes it, then sha256 over it and fsync.
sinkh=$($PY bench/client.py sink "$C" /sink "$W/data/push256" --runs "$RUNS" \
    --fsync-dir "$W/ceiling/sink" --hash)
sinkhr=$(jf "$sinkh" 'v["bytes_per_s"]/1e6')
for what in "push_256MiB_monolithic|0" "push_256MiB_chunked_8MiB|$((8 << 20))"; do
	IFS='|' read -r key chunk <<< "$what"
	log "$key"
	jb=$($PY bench/client.py push "$B" bench/push "$W/data/push256" --chunk "$chunk" --runs "$RUNS")
	jp=$($PY bench/client.py push "$P" bench/push "$W/data/push256" --chunk "$chunk" --runs "$RUNS")
	put "$key" "push 256 MiB, ${key#push_256MiB_}" MB/s higher \
	    "$(jf "$jb" 'v["bytes_per_s"]/1e6')" "$(jf "$jp" 'v["bytes_per_s"]/1e6')" \
	    "$sinkr" "nginx body to disk"
	put "${key}_vs_fsync" "push 256 MiB, ${key#push_256MiB_}, vs a durable ceiling" MB/s higher \
	    "$(jf "$jb" 'v["bytes_per_s"]/1e6')" "$(jf "$jp" 'v["bytes_per_s"]/1e6')" \
	    "$sinkfr" "nginx body to disk + fsync"
done
log "disk: write 256 MiB and fsync (dd), for scale"
dd if="$W/data/push256" of="$W/ceiling/sink/dd" bs=1M conv=fsync 2> "$W/dd.out"
rm -f "$W/ceiling/sink/dd"
ddr=$(awk '/bytes/ {v = $(NF-1); u = $NF} END {m = (u ~ /^G/) ? 1000 : (u ~ /^k/) ? 0.001 : 1; print v * m}' "$W/dd.out")
put disk_write_fsync "disk: write 256 MiB + fsync (dd)" MB/s higher "" "" "$ddr" "dd conv=fsync"
rm -f "$W/ceiling/sink/"*
put push_handoff_estimate "push 256 MiB, body file handed over (estimate)" MB/s higher \
    "" "" "$sinkhr" "nginx to disk + sha256 + fsync"
put sha256_one_core "openssl sha256, one core" MB/s higher "" "" "$sha" "openssl speed"

# --- Tags and catalog --------------------------------------------------------
log "filling $NFILL tags and $NFILL repositories in each registry"
for reg in "$B" "$P"; do
	$PY bench/client.py tags "$reg" bench/app "$W/data/manifest.json" "$NFILL" >&2
	$PY bench/client.py repos "$reg" bench/app cat/r "$NFILL" >&2
done
for what in "tags_page100|tags list, first 100 of $NFILL|/v2/bench/app/tags/list?n=100" \
    "catalog_page100|catalog, first 100 of $NFILL|/v2/_catalog?n=100"; do
	IFS='|' read -r key label path <<< "$what"
	# A registry may ignore n (docker-registry 2.8 does for tags): say
	# how many entries each one's "first page" really holds.
	count() { curl -fsS "http://$1$path" | $PY -c 'import json,sys; d=json.load(sys.stdin); print(len(d.get("tags") or d.get("repositories") or []))'; }
	label="$label (entries: berth $(count "$B"), peer $(count "$P"))"
	log "$label"
	jb=$(wrkj "http://$B$path" $CONNS); check "berth $key" "$jb"
	jp=$(wrkj "http://$P$path" $CONNS); check "peer $key" "$jp"
	put "${key}_rps" "$label, req/s" req/s higher "$(rate "$jb")" "$(rate "$jp")" ""
	put "${key}_p99" "$label, p99" ms lower "$(p99 "$jb")" "$(p99 "$jp")" ""
done
for what in "tags_all|tags list, all $NFILL|/v2/bench/app/tags/list" \
    "catalog_all|catalog, all $NFILL|/v2/_catalog"; do
	IFS='|' read -r key label path <<< "$what"
	log "$label"
	jb=$($PY bench/client.py list "$B" "$path" --runs "$LISTRUNS")
	jp=$($PY bench/client.py list "$P" "$path" --runs "$LISTRUNS")
	log "  berth $jb"
	log "  peer  $jp"
	put "$key" "$label (following Link)" ms lower \
	    "$(jf "$jb" 'v["seconds_median"]*1000')" "$(jf "$jp" 'v["seconds_median"]*1000')" ""
done

sleep 1
memory after

# --- Plain CGI ---------------------------------------------------------------
log "CGI: one process per manifest GET"
# A CGI program takes no arguments (a web server could pass a query as
# them): the data directory comes from a configuration file.
printf '[storage]\ndata_dir = %s\n' "$W/berth" > "$W/cgi.ini"
cgi_env=(GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET BERTH_CONFIG="$W/cgi.ini"
    REQUEST_URI=/v2/bench/app/manifests/latest QUERY_STRING=)
env "${cgi_env[@]}" "$BERTH" < /dev/null > "$W/cgi.out"
grep -q '"schemaVersion"' "$W/cgi.out" || { echo "bench: CGI answer:" >&2; cat "$W/cgi.out" >&2; exit 1; }
env "${cgi_env[@]}" hyperfine -N --style none --warmup 20 --runs "$CGIRUNS" \
    --output null --export-json "$W/cgi.json" \
    "$BERTH" /bin/true >&2
cgi=$(jf "$(cat "$W/cgi.json")" 'v["results"][0]["median"]*1000')
floor=$(jf "$(cat "$W/cgi.json")" 'v["results"][1]["median"]*1000')
put cgi_manifest_get "CGI manifest GET, one process" ms lower "$cgi" "" "$floor" "exec /bin/true"

# --- Access control (issue 12) ----------------------------------------------
# The same registry restarted with [auth] enabled on the same data: a
# manifest GET with a Bearer token against the rate without auth above;
# the token endpoint's sign-in rate with a bcrypt password from an
# htpasswd file (after the first sign-in the verified-credentials cache
# answers), and what one bcrypt check costs (first sign-ins of distinct
# users, one hash each); and a CGI manifest GET with a token.
# The rate without access control again, just before: other work on the
# machine drifts over a run, and the ratio is what the target is about.
log "manifest GET by tag, without access control, just before"
jn=$(wrkj "http://$B/v2/bench/app/manifests/latest" $CONNS); check "berth without auth" "$jn"
log "access control: restart with [auth] enabled"
DATA_DIR=$W/berth BERTH=$BERTH nginx/serve.sh stop >/dev/null 2>&1
NB=10
: > "$W/htpasswd"
for i in $(seq 1 $NB); do htpasswd -B -C 10 -b "$W/htpasswd" "bc$i" "pw-$i" 2>/dev/null; done
printf '[storage]\ndata_dir = %s\n[auth]\nenabled = true\ntoken_lifetime = 1h\nhtpasswd = %s\n' \
    "$W/berth" "$W/htpasswd" > "$W/auth.ini"
for i in $(seq 1 $NB); do "$BERTH" -c "$W/auth.ini" grant "bc$i" '**' pull >/dev/null; done
PORT=$BPORT DATA_DIR=$W/berth BERTH=$BERTH BERTH_CONFIG=$W/auth.ini WORKERS=$WORKERS \
    nginx/serve.sh start >&2
tokurl="http://$B/v2/token?service=berth&scope=repository:bench/app:pull"
tok=$(curl -fsS -u bc1:pw-1 "$tokurl" | jf "$(cat)" 'v["token"]')
[ -n "$tok" ] || { echo "bench: no token from $tokurl" >&2; exit 1; }
log "manifest GET by tag with a Bearer token"
jt=$(WRK_AUTH="Bearer $tok" wrkj "http://$B/v2/bench/app/manifests/latest" $CONNS)
check "berth with a token" "$jt"
put manifest_get_token_rps "manifest GET by tag with a Bearer token, req/s" req/s higher \
    "$(rate "$jt")" "" "$(rate "$jn")" "berth without access control"
put manifest_get_token_p99 "manifest GET by tag with a Bearer token, p99" ms lower \
    "$(p99 "$jt")" "" ""
log "token endpoint: sign-ins with a bcrypt password (cached after the first)"
js=$(WRK_AUTH="Basic $(printf 'bc1:pw-1' | base64)" wrkj "$tokurl" $CONNS)
check "token endpoint" "$js"
put token_signin_rps "token endpoint sign-in, bcrypt password (verified-credentials cache), req/s" \
    req/s higher "$(rate "$js")" "" ""
t0=$(date +%s%N)
for i in $(seq 2 $NB); do curl -fsS -o /dev/null -u "bc$i:pw-$i" "$tokurl"; done
t1=$(date +%s%N)
put token_first_signin "token endpoint, first sign-in of a user (one bcrypt cost 10 check)" ms lower \
    "$(( (t1 - t0) / (NB - 1) / 1000000 ))" "" ""
log "CGI: one process per manifest GET with a token"
cgi_auth=(GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET BERTH_CONFIG="$W/auth.ini"
    REQUEST_URI=/v2/bench/app/manifests/latest QUERY_STRING= HTTP_HOST="$B"
    HTTP_AUTHORIZATION="Bearer $tok")
env "${cgi_auth[@]}" "$BERTH" < /dev/null > "$W/cgi-auth.out"
grep -q '"schemaVersion"' "$W/cgi-auth.out" ||
    { echo "bench: CGI answer with a token:" >&2; cat "$W/cgi-auth.out" >&2; exit 1; }
env "${cgi_auth[@]}" hyperfine -N --style none --warmup 20 --runs "$CGIRUNS" \
    --output null --export-json "$W/cgi-auth.json" "$BERTH" >&2
cgit=$(jf "$(cat "$W/cgi-auth.json")" 'v["results"][0]["median"]*1000')
put cgi_manifest_get_token "CGI manifest GET with a Bearer token, one process" ms lower \
    "$cgit" "" "$cgi" "CGI without access control"

# --- Blobs in an object store (s3 handler vs fs vs the store) -------------
log "s3 handler: push, pull and manifest GET beside fs and the store (bench/s3.sh)"
BERTH=$BERTH bench/s3.sh "$R" "$RUNS" "$DUR"

# --- Report ------------------------------------------------------------------
$PY bench/report.py "$R" "$OUT" "$ts" "$QUICK" "$WORKERS"
