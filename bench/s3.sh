#!/bin/bash
# s3.sh RESULTS RUNS DUR -- the s3 blob handler's figures for bench/run.sh
# (issue 14), appended to RESULTS as bench/run.sh's JSON lines: berth with
# blob_handler = s3 (redirect = presigned) against the object store itself
# (the ceiling: the same object PUT and GET with curl straight at the
# store) and against berth with the fs handler, each measured the same
# way with curl, best of RUNS:
#   push of a 256 MiB layer (monolithic POST ?digest=; s3: berth stages,
#     verifies, then PUTs it to the store), pull of a 64 MiB blob (s3:
#     curl follows the 307 to the store), and manifest GET by tag with wrk
#     for DUR seconds (no store round trip on that path).
# The store: BERTH_S3_DIR, else hosting/s3-local.sh started here.  Env:
# BERTH (build/berth).  Run standalone for just these figures:
#   bench/s3.sh /dev/stdout 3 10
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
R=$1 RUNS=$2 DUR=$3
PY=/usr/bin/python3
BERTH=${BERTH:-build/berth}
TOOL=tests/s3/s3tool.py
W=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench-s3.XXXXXX")
chmod 755 "$W"
own=""
log() { printf '%s bench s3: %s\n' "$(date -u +%T)" "$*" >&2; }
cleanup() {
	set +e
	for d in fs s3; do DATA_DIR=$W/$d nginx/serve.sh stop >/dev/null 2>&1; done
	[ -n "$own" ] && hosting/s3-local.sh stop "$own" >/dev/null 2>&1
	rm -rf "$W"
}
trap cleanup EXIT
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
put() {	# put KEY LABEL UNIT BETTER BERTH PEER CEILING CEILING_NAME
	$PY -c 'import json, sys
k, label, unit, better, b, p, c, cn = sys.argv[1:9]
num = lambda v: None if v in ("", "-") else float(v)
print(json.dumps({"key": k, "label": label, "unit": unit, "better": better,
    "berth": num(b), "peer": num(p), "ceiling": num(c), "ceiling_name": cn}))' "$@" >> "$R"
}
best() { sort -g | tail -n 1; }
mbs() { $PY -c "print('%.1f' % ($1 / 1e6))"; }

if [ -z "${BERTH_S3_DIR:-}" ]; then
	own=$W/store
	hosting/s3-local.sh start "$own" > "$W/store.log" 2>&1 || { cat "$W/store.log" >&2; exit 1; }
	export BERTH_S3_DIR=$own
fi
ep=$(sed -n 's/^endpoint=//p' "$BERTH_S3_DIR/s3.env")
bucket=$(sed -n 's/^bucket=//p' "$BERTH_S3_DIR/s3.env")
region=$(sed -n 's/^region=//p' "$BERTH_S3_DIR/s3.env")
prefix=bench-$(basename "$W")/
printf '%s\n' "[storage]" "blob_handler = s3" "[blob.s3]" "endpoint = $ep" \
    "region = $region" "bucket = $bucket" "prefix = $prefix" \
    "credentials_file = $BERTH_S3_DIR/credentials" "redirect = presigned" > "$W/s3.ini"
chmod 644 "$W/s3.ini"
FS=127.0.0.1:$(free_port)
S3=127.0.0.1:$(free_port)
while [ "$S3" = "$FS" ]; do S3=127.0.0.1:$(free_port); done
mkdir -p "$W/fs" "$W/s3"
PORT=${FS#*:} DATA_DIR=$W/fs BERTH=$BERTH WORKERS=4 nginx/serve.sh start >&2
PORT=${S3#*:} DATA_DIR=$W/s3 BERTH=$BERTH BERTH_CONFIG=$W/s3.ini WORKERS=4 nginx/serve.sh start >&2

head -c $((256 << 20)) /dev/urandom > "$W/push256"
head -c $((64 << 20)) /dev/urandom > "$W/blob64"
d256=sha256:$(sha256sum "$W/push256" | cut -d' ' -f1)
d64=sha256:$(sha256sum "$W/blob64" | cut -d' ' -f1)

# push_once ADDR REPO -> bytes/s of one monolithic push of push256; the
# stored bytes are removed between runs so that each run stores them.
push_once() {
	curl -fsS -o /dev/null -w '%{speed_upload}\n' -X POST -H 'Expect:' \
	    -H 'Content-Type: application/octet-stream' --data-binary @"$W/push256" \
	    "http://$1/v2/$2/blobs/uploads/?digest=$d256"
}
log "push 256 MiB: the store itself (curl PUT of a presigned URL)"
c_push=$(for i in $(seq "$RUNS"); do
	curl -fsS -o /dev/null -w '%{speed_upload}\n' -H 'Expect:' -T "$W/push256" \
	    "$($TOOL presign PUT "${prefix}ceiling/push256-$i")"
done | best)
log "push 256 MiB: berth, fs handler"
f_push=$(for i in $(seq "$RUNS"); do
	push_once "$FS" "bench/fs$i"
	rm -f "$W/fs/blobs/sha256/${d256:7:2}/${d256#sha256:}"
done | best)
log "push 256 MiB: berth, s3 handler"
s_push=$(for i in $(seq "$RUNS"); do
	push_once "$S3" "bench/s3p$i"
	# The next run must upload again: remove the object (its link
	# stays, in a repository the next run does not use).
	curl -fsS -o /dev/null -X DELETE "$($TOOL presign DELETE "${prefix}sha256/${d256#sha256:}")"
done | best)
[ -z "$(find "$W/s3/blobs" -type f 2>/dev/null)" ] || log "WARNING: blob files on the host with s3"
put s3_push_256MiB "s3: push 256 MiB (fs handler $(mbs "$f_push") MB/s)" MB/s higher \
    "$(mbs "$s_push")" "" "$(mbs "$c_push")" "the store (curl PUT)"

log "pull 64 MiB: seeding both"
push_once "$FS" bench/app > /dev/null || true
curl -fsS -o /dev/null -X POST -H 'Expect:' -H 'Content-Type: application/octet-stream' \
    --data-binary @"$W/blob64" "http://$FS/v2/bench/app/blobs/uploads/?digest=$d64"
curl -fsS -o /dev/null -X POST -H 'Expect:' -H 'Content-Type: application/octet-stream' \
    --data-binary @"$W/blob64" "http://$S3/v2/bench/app/blobs/uploads/?digest=$d64"
pull() { for i in $(seq "$RUNS"); do curl -fsS -L -o /dev/null -w '%{speed_download}\n' "$1"; done | best; }
c_pull=$(pull "$($TOOL presign GET "${prefix}sha256/${d64#sha256:}")")
f_pull=$(pull "http://$FS/v2/bench/app/blobs/$d64")
s_pull=$(pull "http://$S3/v2/bench/app/blobs/$d64")
put s3_pull_64MiB_presigned "s3: pull 64 MiB, presigned 307 (fs handler $(mbs "$f_pull") MB/s)" \
    MB/s higher "$(mbs "$s_pull")" "" "$(mbs "$c_pull")" "the store (curl GET)"

log "manifest GET by tag, fs and s3"
cfg='{}'
dc=sha256:$(printf '%s' "$cfg" | sha256sum | cut -d' ' -f1)
man=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}' "$dc" "$d64" $((64 << 20)))
for a in "$FS" "$S3"; do
	printf '%s' "$cfg" | curl -fsS -o /dev/null -X POST -H 'Content-Type: application/octet-stream' \
	    --data-binary @- "http://$a/v2/bench/app/blobs/uploads/?digest=$dc"
	printf '%s' "$man" | curl -fsS -o /dev/null -X PUT \
	    -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @- \
	    "http://$a/v2/bench/app/manifests/latest"
done
rps() {
	WRK_METHOD=GET WRK_ACCEPT="application/vnd.oci.image.manifest.v1+json" \
	    wrk -t2 -c32 -d"${DUR}s" -s bench/wrk.lua "http://$1/v2/bench/app/manifests/latest" |
	    sed -n 's/^WRKJSON //p' | $PY -c 'import json,sys; v=json.load(sys.stdin); print("%.0f" % (v["requests"]*1e6/v["duration_us"]))'
}
if command -v wrk >/dev/null; then
	f_rps=$(rps "$FS")
	s_rps=$(rps "$S3")
	put s3_manifest_get_tag_rps "s3: manifest GET by tag, req/s (vs the fs handler)" req/s higher \
	    "$s_rps" "" "$f_rps" "fs handler"
fi
log "s3 push $(mbs "$s_push") MB/s vs store $(mbs "$c_push") (fs $(mbs "$f_push")); pull $(mbs "$s_pull") vs $(mbs "$c_pull") (fs $(mbs "$f_pull")); manifest GET ${s_rps:-?} vs fs ${f_rps:-?} req/s"
