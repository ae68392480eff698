#!/bin/bash
# pg.sh -- the PostgreSQL metadata backend against SQLite, and two berth
# hosts against one, on this machine, in one run (issue 15).  `make bench`
# runs it after bench/run.sh; see README.md, "Benchmarks".
#
#   sqlite   berth behind nginx, [metadata] backend = sqlite (the default)
#   pg       the same, backend = postgresql, on a PostgreSQL of its own
#            (hosting/pg-local.sh: a unix socket, fsync off)
#   pg2      a second host on the same schema and blob store (blobs/ and
#            uploads/ are links to pg's), its own nginx and worker pool
#
# Figures, each as a ratio: manifest GET by tag, tags list (first 100 of
# BENCH_TAGS), catalog (first 100 of BENCH_TAGS repositories), small push
# (a 4 KiB blob, POST + PUT) -- postgresql / sqlite; and manifest GET
# through pg and pg2 at once against pg alone.  Targets (issue 15): GET
# on PostgreSQL >= 0.5x SQLite; two hosts >= 1.6x one host when each host
# has its own cores -- here both share this machine's, which the table
# says.  Reported, never asserted.
# Environment: BENCH_QUICK=1, BERTH (build/berth), BENCH_WORKERS (4 per
# host), BENCH_TAGS (10000; 1000 when quick), BENCH_OUT (var/bench),
# BENCH_KEEP=1.  Writes <BENCH_OUT>/pg-latest.json.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

PY=/usr/bin/python3
QUICK=${BENCH_QUICK:-0}
BERTH=${BERTH:-build/berth}
WORKERS=${BENCH_WORKERS:-4}
OUT=${BENCH_OUT:-var/bench}
if [ "$QUICK" = 1 ]; then
	DUR=2 NFILL=${BENCH_TAGS:-1000} PUSHES=50
else
	DUR=10 NFILL=${BENCH_TAGS:-10000} PUSHES=300
fi
CONNS=32
case $BERTH in /*) ;; *) BERTH=$root/$BERTH ;; esac
[ -x "$BERTH" ] || { echo "bench: $BERTH is not built" >&2; exit 1; }
command -v wrk > /dev/null || { echo "bench: wrk missing" >&2; exit 1; }

mkdir -p "$OUT"
W=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench-pg.XXXXXX")
chmod 755 "$W"
log() { printf '%s bench-pg: %s\n' "$(date -u +%T)" "$*" >&2; }
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

hosts=""
cleanup() {
	set +e
	for h in $hosts; do
		DATA_DIR=$W/$h BERTH=$BERTH nginx/serve.sh stop > /dev/null 2>&1
	done
	hosting/pg-local.sh stop "$W/pg" > /dev/null 2>&1
	if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "starting PostgreSQL"
DSN=$(hosting/pg-local.sh start "$W/pg")

# start NAME PORT [INI TEXT]
start() {
	local name=$1 port=$2 ini=$W/$1.ini
	mkdir -p "$W/$name"
	printf '[storage]\ndata_dir = %s\n%s\n' "$W/$name" "${3:-}" > "$ini"
	PORT=$port DATA_DIR=$W/$name BERTH=$BERTH BERTH_CONFIG=$ini WORKERS=$WORKERS \
	    nginx/serve.sh start > "$W/$name.serve.log" 2>&1 ||
	    { cat "$W/$name.serve.log" >&2; exit 1; }
	hosts="$hosts $name"
}
PGINI=$(printf '[metadata]\nbackend = postgresql\n[metadata.postgresql]\ndsn = %s\nschema = bench' "$DSN")
SP=$(free_port); PP=$(free_port); QP=$(free_port)
start sqlite "$SP"
start pg "$PP" "$PGINI"
mkdir -p "$W/pg2"
ln -s "$W/pg/blobs" "$W/pg2/blobs"
ln -s "$W/pg/uploads" "$W/pg2/uploads"
start pg2 "$QP" "body_dir = $W/pg2/body
$PGINI"
S=127.0.0.1:$SP P=127.0.0.1:$PP Q=127.0.0.1:$QP

ACCEPT="application/vnd.oci.image.manifest.v1+json"
wrkj() {	# wrkj URL CONNS -> wrk.lua's JSON line
	WRK_METHOD=GET WRK_ACCEPT=$ACCEPT wrk -t2 -c"$2" -d"${DUR}s" --timeout 60s \
	    -s bench/wrk.lua "$1" | sed -n 's/^WRKJSON //p'
}
jf() { $PY -c 'import json,sys; v=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }
rate() { jf "$1" 'round(v["requests"]*1e6/v["duration_us"], 1)'; }
errs() { jf "$1" 'v["err_status"]+v["err_read"]+v["err_connect"]+v["err_timeout"]'; }

R=$W/results.jsonl
: > "$R"
# put KEY LABEL SQLITE_OR_ONE PG_OR_TWO TARGET
put() {
	$PY - "$@" >> "$R" <<'PYEOF'
import json, sys
k, label, a, b, target = sys.argv[1:6]
a, b = float(a), float(b)
print(json.dumps({"key": k, "label": label, "base": a, "value": b,
                  "ratio": round(b / a, 3) if a else None,
                  "target": float(target) if target else None}))
PYEOF
}

head -c 4096 /dev/urandom > "$W/small"
head -c 65536 /dev/urandom > "$W/layer"
log "seeding, and filling $NFILL tags and $NFILL repositories in sqlite and pg"
for reg in "$S" "$P"; do
	$PY bench/client.py seed "$reg" bench/app latest "$W/layer" > "$W/seed.json"
	jf "$(cat "$W/seed.json")" 'v["manifest"]' > "$W/manifest.json"
	$PY bench/client.py tags "$reg" bench/app "$W/manifest.json" "$NFILL" >&2
	$PY bench/client.py repos "$reg" bench/app cat/r "$NFILL" >&2
done

for what in "manifest_get|manifest GET by tag|/v2/bench/app/manifests/latest|0.5" \
    "tags_page100|tags list, first 100 of $NFILL|/v2/bench/app/tags/list?n=100|" \
    "catalog_page100|catalog, first 100 of $NFILL|/v2/_catalog?n=100|"; do
	IFS='|' read -r key label path target <<< "$what"
	log "$label"
	js=$(wrkj "http://$S$path" $CONNS)
	jp=$(wrkj "http://$P$path" $CONNS)
	for j in "$js" "$jp"; do
		[ "$(errs "$j")" = 0 ] || log "WARNING: $key: errors: $j"
	done
	put "$key" "$label, req/s" "$(rate "$js")" "$(rate "$jp")" "$target"
done

log "small push: a 4 KiB blob, POST + PUT, $PUSHES times"
js=$($PY bench/client.py push "$S" bench/small "$W/small" --runs "$PUSHES")
jp=$($PY bench/client.py push "$P" bench/small "$W/small" --runs "$PUSHES")
put small_push "small push (4 KiB blob), pushes/s" \
    "$(jf "$js" 'round(1 / v["seconds_median"], 1)')" \
    "$(jf "$jp" 'round(1 / v["seconds_median"], 1)')" ""

log "manifest GET: pg alone, then pg and pg2 at once"
j1=$(wrkj "http://$P/v2/bench/app/manifests/latest" $CONNS)
wrkj "http://$P/v2/bench/app/manifests/latest" $CONNS > "$W/two-a" &
wrkj "http://$Q/v2/bench/app/manifests/latest" $CONNS > "$W/two-b"
wait
two=$($PY -c 'import sys; print(sum(float(x) for x in sys.argv[1:]))' \
    "$(rate "$(cat "$W/two-a")")" "$(rate "$(cat "$W/two-b")")")
put two_hosts "manifest GET, two hosts at once vs one ($(nproc) cores shared by both)" \
    "$(rate "$j1")" "$two" 1.6

ts=$(date -u +%Y%m%dT%H%M%SZ)
$PY - "$R" "$OUT/pg-$ts.json" "$(nproc)" "$WORKERS" "$QUICK" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
doc = {"cores": int(sys.argv[3]), "workers_per_host": int(sys.argv[4]),
       "quick": sys.argv[5] == "1", "figures": rows}
with open(sys.argv[2], "w") as f:
    json.dump(doc, f, indent=1)
print("%-62s %10s %10s %7s %s" % ("figure", "sqlite/1h", "pg/2h", "ratio", "target"))
for r in rows:
    t = "" if r["target"] is None else ("%.1fx %s" % (r["target"],
        "met" if r["ratio"] is not None and r["ratio"] >= r["target"] else "missed"))
    print("%-62s %10.1f %10.1f %6.2fx %s" % (r["label"][:62], r["base"], r["value"],
                                            r["ratio"] or 0, t))
PYEOF
cp "$OUT/pg-$ts.json" "$OUT/pg-latest.json"
log "wrote $OUT/pg-$ts.json"
