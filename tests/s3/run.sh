#!/bin/bash
# tests/s3/run.sh -- blobs in a real S3-compatible object store (the s3
# blob handler, store/blob_s3.c) behind nginx:
#   1. the e2e spec suite (tests/e2e) with blob_handler = s3, once with
#      redirect = presigned (the suite follows the 307s to the store, Range
#      included) and once with redirect = proxy (nginx fetches the store);
#      after each, the registry's data directory holds no blob bytes;
#   2. skopeo and podman round trips (tests/clients) in both modes, every
#      blob stored once in the store and none on the host;
#   3. by hand: a blob GET answered 307 whose URL fetches the exact bytes,
#      a Range of them too; HEAD from the metadata (no Location); a blob
#      larger than part_size goes up as a multipart upload, stored whole
#      under its key, with no upload left unfinished;
#   4. the store stopped in the middle of a chunked push: the final PUT
#      gets 503 with an OCI UNAVAILABLE body, nothing becomes visible (in
#      the registry or the store) and nothing of that chunk is kept; the
#      session lives on (its first chunk staged in the store), and once
#      the store is back the same PUT finishes it, leaving no staging
#      behind;
#   5. gc and fsck against the store: an unlinked blob's object is removed
#      by gc; fsck re-hashes the objects, passes on a clean store, and
#      reports an object whose bytes are not its digest's and a stray key;
#   6. `berth -t` refuses a missing bucket, refused credentials and an
#      unreachable store with a readable line, and no log of any registry
#      here holds the secret key.
# The store: BERTH_S3_DIR (a running hosting/s3-local.sh; tests/run.sh
# starts one), else one started here.  Env: BERTH (binary; default
# build/berth), S3_E2E=0 and S3_CLIENTS=0 to leave out layers 1 and 2.
# Last line "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
BERTH=${BERTH:-$top/build/berth}
case $BERTH in /*) ;; *) BERTH=$top/$BERTH ;; esac
export BERTH
S3LOCAL=$top/hosting/s3-local.sh
TOOL=$top/tests/s3/s3tool.py
. "$top/tests/lib/check.sh"
work=$(mktemp -d /tmp/berth-s3-XXXXXX)
chmod 755 "$work"
servers=()
own_store=""

cleanup() {
	for d in "${servers[@]}"; do DATA_DIR=$d "$top/nginx/serve.sh" stop >/dev/null 2>&1; done
	if [ "${SANITIZER_LOG_CHECK:-}" = 1 ] &&
	    grep -l -E 'ERROR: AddressSanitizer|runtime error:' "$work"/*/run/berth.log 2>/dev/null; then
		echo "not ok - sanitizer reports in berth.log"
		fail=$((fail + 1))
	fi
	[ -n "$own_store" ] && "$S3LOCAL" stop "$own_store" >/dev/null 2>&1
	rm -rf "$work"
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}
trap 'cleanup; exit $?' EXIT

# Add up a sub-runner's "N passed, N failed" line (one failure if none).
add_counts() {	# add_counts NAME LOG RC
	local line p f
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$2" | tail -n 1)
	if [ -z "$line" ]; then
		not_ok "$1" "printed no summary"
		tail -n 30 "$2"
		return
	fi
	p=${line%% passed*}
	f=${line#*, }; f=${f%% failed*}
	pass=$((pass + p))
	fail=$((fail + f))
	[ "$3" -ne 0 ] && [ "$f" -eq 0 ] && not_ok "$1" "exited $3"
	[ "$f" -gt 0 ] && grep -E '^(not ok|FAIL|ERROR)' "$2" | head -n 20
	return 0
}

if [ -z "${BERTH_S3_DIR:-}" ]; then
	own_store=$work/store
	"$S3LOCAL" start "$own_store" > "$work/store.log" 2>&1 ||
	    { cat "$work/store.log"; not_ok "start the object store" "s3-local.sh failed"; exit 1; }
	export BERTH_S3_DIR=$own_store
fi
env_of() { sed -n "s/^$1=//p" "$BERTH_S3_DIR/s3.env"; }
ENDPOINT=$(env_of endpoint)
BUCKET=$(env_of bucket)
REGION=$(env_of region)
run_id=$(basename "$work")

# The [storage] and [blob.s3] lines for mode $1, key prefix $2.
s3_lines() {
	printf '%s\n' "[storage]" "blob_handler = s3" "[blob.s3]" \
	    "endpoint = $ENDPOINT" "region = $REGION" "bucket = $BUCKET" \
	    "prefix = $2" "credentials_file = $BERTH_S3_DIR/credentials" \
	    "redirect = $1"
}

# ---- 1. the e2e suite, presigned and proxy ----
[ "${S3_E2E:-1}" = 1 ] && for mode in presigned proxy; do
	lines=$(s3_lines "$mode" "$run_id/e2e-$mode/" | sed 1d)
	E2E_BLOB_CONFIG=$lines E2E_LABEL=s3-$mode BERTH_FOLLOW_REDIRECTS=1 \
	    SERVER=nginx "$top/tests/e2e/run.sh" > "$work/e2e-$mode.log" 2>&1
	add_counts "e2e (s3 $mode)" "$work/e2e-$mode.log" $?
	tail -n 1 "$work/e2e-$mode.log" | sed "s/^/e2e s3-$mode: /"
done

# ---- 2. skopeo and podman, presigned and proxy ----
if [ "${S3_CLIENTS:-1}" = 1 ]; then
	for mode in presigned proxy; do
		s3_lines "$mode" "$run_id/clients-$mode/" > "$work/clients-$mode.ini"
		chmod 644 "$work/clients-$mode.ini"
		BERTH_CONFIG=$work/clients-$mode.ini CLIENTS_S3_PREFIX=$run_id/clients-$mode/ \
		    SERVER=nginx "$top/tests/clients/run.sh" > "$work/clients-$mode.log" 2>&1
		add_counts "clients (s3 $mode)" "$work/clients-$mode.log" $?
		tail -n 1 "$work/clients-$mode.log" | sed "s/^/clients s3-$mode: /"
	done
fi

# start NAME MODE PREFIX [INI LINE]: a registry on $work/NAME; sets $url
# and $data.
start() {
	data=$work/$1
	mkdir -p "$data"
	chmod 755 "$data"
	s3_lines "$2" "$3" > "$work/$1.ini"
	[ $# -gt 3 ] && echo "$4" >> "$work/$1.ini"
	chmod 644 "$work/$1.ini"
	port=$(free_port)
	url=http://127.0.0.1:$port
	PORT=$port DATA_DIR=$data BERTH_CONFIG=$work/$1.ini WORKERS=2 \
	    "$top/nginx/serve.sh" start > "$work/$1.serve.log" 2>&1 ||
	    { not_ok "start $1" "serve.sh failed: $(tail -n 5 "$work/$1.serve.log")"; return 1; }
	servers+=("$data")
}

# push_blob FILE: a monolithic POST ?digest=; prints the status.
push_blob() {
	curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/octet-stream' \
	    --data-binary @"$1" "$url/v2/$repo/blobs/uploads/?digest=$(digest_of "$1")"
}
digest_of() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
repo=s3/check

# ---- 3. a 307 whose URL fetches the bytes, Range too ----
prefix3=$run_id/redirect/
if start redirect presigned "$prefix3"; then
	head -c 1500000 /dev/urandom > "$work/blob3"
	d3=$(digest_of "$work/blob3")
	check "presigned: the push is stored" 201 "$(push_blob "$work/blob3")"
	curl -s -o /dev/null -D "$work/h3" "$url/v2/$repo/blobs/$d3"
	check "presigned: blob GET answers 307" 307 "$(sed -n '1s/^HTTP[^ ]* \([0-9]*\).*/\1/p' "$work/h3")"
	check "presigned: the 307 carries Docker-Content-Digest" "$d3" \
	    "$(sed -n 's/^Docker-Content-Digest: \(.*\)\r$/\1/p' "$work/h3")"
	loc=$(sed -n 's/^Location: \(.*\)\r$/\1/p' "$work/h3")
	case $loc in
	"$ENDPOINT/$BUCKET/${prefix3}sha256/"*X-Amz-Signature=*) ok "presigned: Location is a presigned URL of the object" ;;
	*) not_ok "presigned: Location is a presigned URL of the object" "got [$loc]" ;;
	esac
	curl -s -o "$work/got3" "$loc"
	check "presigned: the URL yields the exact bytes" "$(digest_of "$work/blob3")" "$(digest_of "$work/got3")"
	code=$(curl -s -o "$work/range3" -w '%{http_code}' -H 'Range: bytes=1000-1999' "$loc")
	check "presigned: a Range on the URL answers 206" 206 "$code"
	cmp -s "$work/range3" <(tail -c +1001 "$work/blob3" | head -c 1000) &&
	    ok "presigned: the 206 holds bytes 1000-1999" ||
	    not_ok "presigned: the 206 holds bytes 1000-1999" "bytes differ"
	curl -s -o /dev/null -D "$work/hh3" -I "$url/v2/$repo/blobs/$d3"
	check "HEAD answers 200 from the metadata" "200 1500000 none" \
	    "$(sed -n '1s/^HTTP[^ ]* \([0-9]*\).*/\1/p' "$work/hh3") $(sed -n 's/^Content-Length: \([0-9]*\)\r$/\1/p' "$work/hh3") $(grep -qi '^Location:' "$work/hh3" && echo location || echo none)"
	check "the host keeps no blob bytes" "" "$(find "$data/blobs" "$data/uploads" -type f 2>/dev/null)"
fi

# ---- 3b. a multipart upload: 12 MiB in 5 MiB parts ----
prefix3b=$run_id/multipart/
if start multipart presigned "$prefix3b" "part_size = 5M"; then
	head -c $((12 << 20)) /dev/urandom > "$work/blob3b"
	d3b=$(digest_of "$work/blob3b")
	check "multipart: the push is stored" 201 "$(push_blob "$work/blob3b")"
	check "multipart: one object of the whole size" "${prefix3b}sha256/${d3b#sha256:} $((12 << 20))" \
	    "$("$TOOL" ls "$prefix3b")"
	curl -s -L -o "$work/got3b" "$url/v2/$repo/blobs/$d3b"
	check "multipart: the presigned GET yields the exact bytes" "$d3b" "$(digest_of "$work/got3b")"
	check "multipart: no upload left unfinished" "" "$("$TOOL" uploads "$prefix3b")"
fi

# ---- 4. the store stopped mid-push ----
prefix4=$run_id/outage/
if start outage presigned "$prefix4"; then
	head -c 3000000 /dev/urandom > "$work/blob4"
	d4=$(digest_of "$work/blob4")
	loc=$(curl -s -D - -o /dev/null -X POST -H 'Content-Length: 0' "$url/v2/$repo/blobs/uploads/" |
	    sed -n 's/^Location: \(.*\)\r$/\1/p')
	head -c 2000000 "$work/blob4" > "$work/blob4a"
	tail -c +2000001 "$work/blob4" > "$work/blob4b"
	code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H 'Content-Type: application/octet-stream' \
	    -H 'Content-Range: 0-1999999' --data-binary @"$work/blob4a" "$url$loc")
	check "outage: the first chunk is accepted" 202 "$code"
	"$S3LOCAL" stop "$BERTH_S3_DIR" > /dev/null 2>&1
	sep='?'; case $loc in *\?*) sep='&' ;; esac
	start_s=$(date +%s)
	code=$(curl -s -o "$work/body4" -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
	    -H 'Content-Range: 2000000-2999999' --data-binary @"$work/blob4b" "$url$loc${sep}digest=$d4")
	took=$(( $(date +%s) - start_s ))
	check "outage: the final PUT answers 503" 503 "$code"
	check "outage: with an OCI UNAVAILABLE body" UNAVAILABLE \
	    "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["errors"][0]["code"])' "$work/body4" 2>&1)"
	[ "$took" -le 15 ] && ok "outage: answered within 15 s ($took s)" || not_ok "outage: answered within 15 s" "$took s"
	check "outage: the blob is not visible" 404 \
	    "$(curl -s -o /dev/null -w '%{http_code}' -I "$url/v2/$repo/blobs/$d4")"
	# The session lives on (its bytes are staged in the store,
	# store/upload.h): nothing of the refused chunk is kept, on the host
	# or in the store, and the same PUT succeeds once the store is back.
	uuid4=${loc##*/}; uuid4=${uuid4%%\?*}
	check "outage: on the host only the session's first chunk" \
	    "$data/uploads/$uuid4 2000000" \
	    "$(find "$data/uploads" "$data/blobs" -type f -printf '%p %s\n' 2>/dev/null)"
	"$S3LOCAL" start "$BERTH_S3_DIR" > "$work/restart.log" 2>&1 ||
	    not_ok "outage: the store comes back" "$(tail -n 5 "$work/restart.log")"
	check "outage: the store took the same endpoint" "$ENDPOINT" "$(env_of endpoint)"
	check "outage: nothing was stored under the digest, only the first chunk staged" \
	    "${prefix4}uploads/$uuid4/00000000000000000000 2000000" "$("$TOOL" ls "${prefix4}")"
	code=$(curl -s -o "$work/body4" -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
	    -H 'Content-Range: 2000000-2999999' --data-binary @"$work/blob4b" "$url$loc${sep}digest=$d4")
	check "outage: the same final PUT succeeds once the store is back" 201 "$code"
	check "outage: no staging left in the store" "" "$("$TOOL" ls "${prefix4}uploads/")"
	check "outage: nor on the host" "" "$(find "$data/uploads" "$data/blobs" -type f 2>/dev/null)"
	check "outage: a push of the same blob succeeds" 201 "$(push_blob "$work/blob4")"
	curl -s -L -o "$work/got4" "$url/v2/$repo/blobs/$d4"
	check "outage: and the blob is served" "$d4" "$(digest_of "$work/got4")"
fi

# ---- 5. gc and fsck against the store ----
prefix5=$run_id/gc/
if start gc stream "$prefix5"; then
	head -c 800000 /dev/urandom > "$work/keep5"
	head -c 900000 /dev/urandom > "$work/drop5"
	dk=$(digest_of "$work/keep5"); dd=$(digest_of "$work/drop5")
	check "gc: two blobs pushed" "201 201" "$(push_blob "$work/keep5") $(push_blob "$work/drop5")"
	check "stream: the worker sends the exact bytes" "$dk" \
	    "$(curl -s "$url/v2/$repo/blobs/$dk" | sha256sum | sed 's/^/sha256:/; s/ .*//')"
	# A manifest keeps one of them referenced.
	printf '{}' > "$work/cfg5"
	dc=$(digest_of "$work/cfg5")
	push_blob "$work/cfg5" > /dev/null
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":800000}]}' \
	    "$dc" "$dk" > "$work/man5"
	check "gc: a manifest keeps one blob" 201 "$(curl -s -o /dev/null -w '%{http_code}' -X PUT \
	    -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$work/man5" \
	    "$url/v2/$repo/manifests/v1")"
	cfg5=$work/gc.ini
	"$BERTH" -c "$cfg5" -d "$data" gc --grace 0 > "$work/gc5.log" 2>&1
	check "gc: exits 0" 0 $?
	check "gc: the unreferenced blob's object is gone from the store" "" \
	    "$("$TOOL" ls "$prefix5" | grep "${dd#sha256:}")"
	check "gc: the referenced blob's object stays" "800000" \
	    "$("$TOOL" ls "$prefix5" | grep "${dk#sha256:}" | cut -d' ' -f2)"
	"$BERTH" -c "$cfg5" -d "$data" fsck > "$work/fsck5.log" 2>&1
	check "fsck: a clean store passes" 0 $?
	# Bytes under a digest that are not its bytes, and a key of no blob.
	"$TOOL" put "${prefix5}sha256/${dk#sha256:}" "$work/drop5"
	"$TOOL" put "${prefix5}not-a-blob" "$work/cfg5"
	"$BERTH" -c "$cfg5" -d "$data" fsck > "$work/fsck5b.log" 2>&1
	rc=$?
	[ "$rc" -ne 0 ] && ok "fsck: a corrupt object fails the check (exit $rc)" ||
	    not_ok "fsck: a corrupt object fails the check" "exit 0: $(cat "$work/fsck5b.log")"
	grep -q "${dk#sha256:}" "$work/fsck5b.log" && ok "fsck: names the corrupt blob" ||
	    not_ok "fsck: names the corrupt blob" "$(head -n 5 "$work/fsck5b.log")"
	grep -q "not-a-blob" "$work/fsck5b.log" && ok "fsck: names the stray key" ||
	    not_ok "fsck: names the stray key" "$(head -n 5 "$work/fsck5b.log")"
	check "the host keeps no blob bytes" "" "$(find "$data/blobs" "$data/uploads" -type f 2>/dev/null)"
fi

# ---- 6. berth -t checks the store; the secret is never logged ----
printf '%s\n' "[default]" "aws_access_key_id = $(env_of access_key)" \
    "aws_secret_access_key = wrong-secret" > "$work/wrong-cred"
t_check() {	# t_check NAME INI-SED WANT-TEXT
	sed "$2" "$work/gc.ini" > "$work/t.ini"
	out=$("$BERTH" -t -c "$work/t.ini" -d "$work/t-data" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -q "$3"; then
		ok "berth -t: $1"
	else
		not_ok "berth -t: $1" "exit $rc: $out"
	fi
}
t_check "a missing bucket" "s/^bucket = .*/bucket = no-such-bucket/" "bucket no-such-bucket does not exist"
t_check "refused credentials" "s|^credentials_file = .*|credentials_file = $work/wrong-cred|" "refused the credentials"
t_check "an unreachable store" "s|^endpoint = .*|endpoint = http://127.0.0.1:1|" "cannot reach http://127.0.0.1:1"
"$BERTH" -t -c "$work/gc.ini" -d "$work/t-data" > /dev/null 2>&1
check "berth -t: the right settings pass" 0 $?
secret=$(env_of secret_key)
nlogs=$(ls "$work"/*/run/berth.log 2>/dev/null | wc -l)
[ "$nlogs" -ge 3 ] && ok "the registries here left their logs ($nlogs)" ||
    not_ok "the registries here left their logs" "$nlogs berth.log files"
check "no berth or nginx log holds the secret key" "" \
    "$(grep -l -F -e "$secret" "$work"/*/run/*.log 2>/dev/null)"
