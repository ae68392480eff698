#!/bin/bash
# tests/storage/run.sh -- the storage seam end to end, behind real nginx:
#   - offload modes: x-accel (nginx sends the file), x-sendfile (the worker
#     names the file), stream (the worker sends the bytes, with Range);
#   - read-only mode: every push 405 UNSUPPORTED, pulls work;
#   - the redirect handler: GET 307 to <redirect_url>/<alg>/<hex>, HEAD 200
#     with size and digest from the metadata;
#   - injected faults (tests/backend/blob_fault.c): a failed write, a full
#     disk, a short write, a worker dying between write and rename -- each
#     leaves no blob visible, answers a 5xx with an OCI error body, and
#     leaves the database consistent;
#   - a full disk (a tmpfs data directory, filled): nginx's own failure
#     to store an upload body is 507 with an OCI body, nothing is left
#     visible, and the registry serves again once space is freed;
#   - a killed worker is restarted; a killed parent takes its workers along;
#   - configuration errors name the file, line and key.
# Changing handler or offload mode is a configuration change: the same
# binary serves every case.  Env: BERTH (binary; default build/berth).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
BERTH=${BERTH:-$top/build/berth}
. "$top/tests/lib/check.sh"
work=$(mktemp -d /tmp/berth-storage-XXXXXX)
chmod 755 "$work"
servers=()

cleanup() {
	for d in "${servers[@]}"; do DATA_DIR=$d BERTH=$BERTH "$top/nginx/serve.sh" stop; done
	if mountpoint -q "$work/full" 2>/dev/null; then umount "$work/full"; fi
	if [ "${SANITIZER_LOG_CHECK:-}" = 1 ] &&
	    grep -l -E 'ERROR: AddressSanitizer|runtime error:' "$work"/*/run/berth.log 2>/dev/null; then
		echo "not ok - sanitizer reports in berth.log"
		fail=$((fail + 1))
	fi
	rm -rf "$work"
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}
trap 'cleanup; exit $?' EXIT

# start NAME CONFIG-TEXT: a server on a data dir $work/NAME (kept across
# restarts); sets $url and $data.
start() {
	data=$work/$1
	mkdir -p "$data"
	printf '%s\n' "$2" > "$work/$1.ini"
	port=$(free_port)
	url=http://127.0.0.1:$port
	DATA_DIR=$data BERTH=$BERTH "$top/nginx/serve.sh" stop
	PORT=$port DATA_DIR=$data BERTH=$BERTH BERTH_CONFIG=$work/$1.ini \
	    "$top/nginx/serve.sh" start > /dev/null || { not_ok "start $1" "serve.sh failed"; return 1; }
	servers+=("$data")
}

# status METHOD URL [curl args...]: the HTTP status only; the body goes to
# $work/body.
status() { curl -s -o "$work/body" -w '%{http_code}' -X "$1" "${@:2}"; }
# header NAME FILE: a header's value from a curl -D dump.
header() { tr -d '\r' < "$2" | sed -n "s/^$1: //Ip" | tail -n 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
# header_names FILE: the header names of a curl -D dump, lower case, sorted,
# without those nginx adds to every response.
header_names() {
	tr -d '\r' < "$1" | sed -n 's/^\([A-Za-z0-9-]*\):.*/\1/p' | tr 'A-Z' 'a-z' |
	    grep -vxE 'server|date|connection|keep-alive' | sort | tr '\n' ' ' | sed 's/ $//'
}
oci_code() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["errors"][0]["code"])' "$1" 2>/dev/null; }

# A blob and a manifest referring to it, in files under $work.
head -c 300000 /dev/urandom > "$work/blob"
blob=sha256:$(sha "$work/blob")
printf '{"architecture":"amd64","os":"linux"}' > "$work/config"
config=sha256:$(sha "$work/config")
cat > "$work/manifest" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$config","size":$(stat -c%s "$work/config")},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$blob","size":300000}]}
JSON
MT=application/vnd.oci.image.manifest.v1+json

push_image() {	# push_image REPO TAG
	status POST "$url/v2/$1/blobs/uploads/?digest=$config" --data-binary "@$work/config" > /dev/null
	status POST "$url/v2/$1/blobs/uploads/?digest=$blob" --data-binary "@$work/blob" > /dev/null
	status PUT "$url/v2/$1/manifests/$2" -H "Content-Type: $MT" --data-binary "@$work/manifest"
}

# --- offload modes -----------------------------------------------------

for mode in x-accel stream x-sendfile; do
	start "offload-$mode" "[blob.fs]
offload = $mode" || continue
	check "$mode: push" 201 "$(push_image off/img v1)"
	curl -s -D "$work/h" -o "$work/got" "$url/v2/off/img/blobs/$blob"
	check "$mode: blob GET digest header" "$blob" "$(header Docker-Content-Digest "$work/h")"
	check "$mode: blob HEAD Content-Length" 300000 \
	    "$(curl -s -I "$url/v2/off/img/blobs/$blob" | tr -d '\r' | sed -n 's/^Content-Length: //Ip')"
	if [ "$mode" = x-sendfile ]; then
		# nginx does not act on X-Sendfile; it shows what the worker asks
		# lighttpd or Apache to send.
		f=$(header X-Sendfile "$work/h")
		check "x-sendfile: names the content-addressed file" \
		    "$data/blobs/sha256/${blob:7:2}/${blob:7}" "$f"
		check "x-sendfile: that file holds the blob" "${blob:7}" "$(sha "$f")"
		continue
	fi
	check "$mode: blob GET bytes" "${blob:7}" "$(sha "$work/got")"
	check "$mode: blob GET Content-Type" application/octet-stream "$(header Content-Type "$work/h")"
	code=$(curl -s -D "$work/h" -o "$work/got" -H 'Range: bytes=100-199' -w '%{http_code}' "$url/v2/off/img/blobs/$blob")
	check "$mode: Range a-b status" 206 "$code"
	check "$mode: Range a-b Content-Range" "bytes 100-199/300000" "$(header Content-Range "$work/h")"
	check "$mode: Range a-b bytes" "$(tail -c +101 "$work/blob" | head -c 100 | sha256sum | cut -d' ' -f1)" "$(sha "$work/got")"
	code=$(curl -s -D "$work/h" -o "$work/got" -H 'Range: bytes=-10' -w '%{http_code}' "$url/v2/off/img/blobs/$blob")
	check "$mode: Range -n" "206 bytes 299990-299999/300000" "$code $(header Content-Range "$work/h")"
	check "$mode: Range -n bytes" "$(tail -c 10 "$work/blob" | sha256sum | cut -d' ' -f1)" "$(sha "$work/got")"
	code=$(curl -s -D "$work/h" -o "$work/got" -H 'Range: bytes=299000-' -w '%{http_code}' "$url/v2/off/img/blobs/$blob")
	check "$mode: Range a-" "206 bytes 299000-299999/300000" "$code $(header Content-Range "$work/h")"
	check "$mode: Range past the end" 416 \
	    "$(curl -s -o /dev/null -H 'Range: bytes=400000-' -w '%{http_code}' "$url/v2/off/img/blobs/$blob")"
done

# --- read-only mode, then the redirect handler, on a filled data dir ---

start shared "[blob.fs]
offload = x-accel"
check "shared: push" 201 "$(push_image ro/img v1)"
DATA_DIR=$data BERTH=$BERTH "$top/nginx/serve.sh" stop

start shared "[registry]
read_only = true" || true
check "read-only: POST upload → 405" 405 "$(status POST "$url/v2/ro/img/blobs/uploads/")"
check "read-only: code UNSUPPORTED" UNSUPPORTED "$(oci_code "$work/body")"
check "read-only: single POST → 405" 405 "$(status POST "$url/v2/ro/img/blobs/uploads/?digest=$config" --data-binary "@$work/config")"
check "read-only: manifest PUT → 405" 405 "$(status PUT "$url/v2/ro/img/manifests/v2" -H "Content-Type: $MT" --data-binary "@$work/manifest")"
check "read-only: manifest DELETE → 405" 405 "$(status DELETE "$url/v2/ro/img/manifests/v1")"
check "read-only: blob DELETE → 405" 405 "$(status DELETE "$url/v2/ro/img/blobs/$blob")"
check "read-only: manifest GET works" 200 "$(status GET "$url/v2/ro/img/manifests/v1")"
curl -s -o "$work/got" "$url/v2/ro/img/blobs/$blob"
check "read-only: blob GET works" "${blob:7}" "$(sha "$work/got")"
check "read-only: tag still there" 200 "$(status GET "$url/v2/ro/img/manifests/v1")"
DATA_DIR=$data BERTH=$BERTH "$top/nginx/serve.sh" stop

start shared "[storage]
blob_handler = redirect
[blob.redirect]
url = https://cdn.example.org/registry/" || true
curl -s -D "$work/h" -o /dev/null "$url/v2/ro/img/blobs/$blob"
check "redirect: GET → 307" 307 "$(tr -d '\r' < "$work/h" | head -n 1 | cut -d' ' -f2)"
check "redirect: Location" "https://cdn.example.org/registry/sha256/${blob:7}" "$(header Location "$work/h")"
curl -s -I -o "$work/h" "$url/v2/ro/img/blobs/$blob"
check "redirect: HEAD → 200" 200 "$(tr -d '\r' < "$work/h" | head -n 1 | cut -d' ' -f2)"
check "redirect: HEAD Content-Length" 300000 "$(header Content-Length "$work/h")"
check "redirect: HEAD digest" "$blob" "$(header Docker-Content-Digest "$work/h")"
check "redirect: blob not linked here → 404" 404 "$(status GET "$url/v2/other/img/blobs/$blob")"
check "redirect: read-only, push → 405" 405 "$(status POST "$url/v2/ro/img/blobs/uploads/")"
check "redirect: manifests still served" 200 "$(status GET "$url/v2/ro/img/manifests/v1")"

# --- a staging file that lost bytes its session counts -----------------
# What a crash could leave without the fdatasync before the row advances,
# or a hand cutting the file: the session ends (404), never a blob of
# zeros under the right digest.
start short-staging "[blob.fs]
offload = stream" && {
	head -c 200000 "$work/blob" > "$work/part1"
	tail -c +200001 "$work/blob" > "$work/part2"
	loc=$(curl -s -D - -o /dev/null -X POST "$url/v2/s/img/blobs/uploads/" | tr -d '\r' | sed -n 's/^Location: //Ip')
	uuid=${loc##*/}
	check "short staging: first chunk accepted" 202 \
	    "$(status PATCH "$url$loc" --data-binary "@$work/part1" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 0-199999')"
	truncate -s 150000 "$data/uploads/$uuid"
	check "short staging: the next chunk finds the session ended" 404 \
	    "$(status PATCH "$url$loc" --data-binary "@$work/part2" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 200000-299999')"
	check "short staging: BLOB_UPLOAD_UNKNOWN" BLOB_UPLOAD_UNKNOWN "$(oci_code "$work/body")"
	check "short staging: its closing PUT too" 404 "$(status PUT "$url$loc?digest=$blob")"
	check "short staging: no blob of that digest" 404 "$(status HEAD -I "$url/v2/s/img/blobs/$blob")"
	check "short staging: row and file gone" "0 absent" \
	    "$(sqlite3 "$data/berth.db" "select count(*) from uploads") $( [ -e "$data/uploads/$uuid" ] && echo present || echo absent)"
	grep -q "upload $uuid: the staging file holds 150000 bytes, its session 200000: ended" "$data/run/berth.log" &&
		ok "short staging: logged" || not_ok "short staging: logged" "$(tail -n 3 "$data/run/berth.log")"
	check "short staging: a fresh push of the blob works" 201 \
	    "$(status POST "$url/v2/s/img/blobs/uploads/?digest=$blob" --data-binary "@$work/blob")"
	check "short staging: and serves the right bytes" "${blob#sha256:}" \
	    "$(curl -s "$url/v2/s/img/blobs/$blob" | sha256sum | cut -d' ' -f1)"
}

# --- the database's write lock held by another process -----------------
# Past SQLite's busy timeout (10 s) a write answers 503 UNAVAILABLE with
# Retry-After, a status clients retry, not a 500; then it works again.
start locked "[blob.fs]
offload = stream" && {
	push_image l/img v0 > /dev/null
	(echo 'BEGIN IMMEDIATE;'; sleep 14) | sqlite3 "$data/berth.db" &
	holder=$!
	sleep 1
	got=$(status PUT "$url/v2/l/img/manifests/v1" -H "Content-Type: $MT" --data-binary "@$work/manifest" -D "$work/h")
	check "locked database: a manifest PUT answers 503" 503 "$got"
	check "locked database: UNAVAILABLE" UNAVAILABLE "$(oci_code "$work/body")"
	[ -n "$(header Retry-After "$work/h")" ] && ok "locked database: with Retry-After" ||
		not_ok "locked database: Retry-After" "$(cat "$work/h")"
	check "locked database: reads go on meanwhile" 200 \
	    "$(status GET "$url/v2/l/img/manifests/v0" -H "Accept: $MT")"
	wait "$holder"
	check "locked database: the same PUT once the lock is gone" 201 \
	    "$(status PUT "$url/v2/l/img/manifests/v1" -H "Content-Type: $MT" --data-binary "@$work/manifest")"
}

# --- injected faults ---------------------------------------------------

db_count() { sqlite3 "$data/berth.db" "$1"; }
for fault in eio enospc short crash; do
	export BERTH_FAULT=$fault
	start "fault-$fault" "[storage]
blob_handler = fault
offload = stream" || continue
	unset BERTH_FAULT
	case $fault in
	enospc) want=507 code=UNKNOWN ;;
	crash) want=503 code=UNAVAILABLE ;;
	*) want=500 code=UNKNOWN ;;
	esac
	got=$(status POST "$url/v2/f/img/blobs/uploads/?digest=$blob" --data-binary "@$work/blob" -D "$work/h")
	check "$fault: single POST answers $want" "$want" "$got"
	check "$fault: OCI error body" "$code" "$(oci_code "$work/body")"
	# An error carries the version and its JSON, nothing of a success.
	check "$fault: only the error's headers" \
	    "content-length content-type docker-distribution-api-version" "$(header_names "$work/h")"
	# A chunked session meets the same fault at its closing PUT.
	loc=$(curl -s -D - -o /dev/null -X POST "$url/v2/f/img/blobs/uploads/" | tr -d '\r' | sed -n 's/^Location: //Ip')
	status PATCH "$url$loc" --data-binary "@$work/blob" -H 'Content-Type: application/octet-stream' > /dev/null
	check "$fault: closing PUT answers $want" "$want" "$(status PUT "$url$loc?digest=$blob")"
	check "$fault: blob not visible (HEAD)" 404 "$(status HEAD -I "$url/v2/f/img/blobs/$blob")"
	check "$fault: blob not visible (GET)" 404 "$(status GET "$url/v2/f/img/blobs/$blob")"
	check "$fault: no file under blobs/" 0 "$(find "$data/blobs" -type f | wc -l)"
	check "$fault: no blob rows" "0 0" "$(db_count 'select count(*) from blobs') $(db_count 'select count(*) from blob_links')"
	check "$fault: database intact" ok "$(db_count 'pragma integrity_check')"
	check "$fault: registry still answers" 200 "$(status GET "$url/v2/")"
	check "$fault: pushes of manifests refused for the missing blob" 400 \
	    "$(status PUT "$url/v2/f/img/manifests/v1" -H "Content-Type: $MT" --data-binary "@$work/manifest")"
done

# --- a full disk --------------------------------------------------------

# The data directory on a 20 MiB tmpfs, filled up by a file: nginx fails
# to write the upload body into the body directory, berth's SQLite writes
# fail with SQLITE_FULL.  Needs root (mount).
mkdir -p "$work/full"
if mount -t tmpfs -o size=20m tmpfs "$work/full" 2> /dev/null &&
    start full "[blob.fs]
offload = x-accel"; then
	check "full: push before" 201 "$(push_image full/img v1)"
	head -c 300000 /dev/urandom > "$work/blob2"
	blob2=sha256:$(sha "$work/blob2")
	before=$(find "$data/blobs" -type f | wc -l)
	loc=$(curl -s -D - -o /dev/null -X POST "$url/v2/full/img/blobs/uploads/" | tr -d '\r' | sed -n 's/^Location: //Ip')
	head -c 30M /dev/zero > "$data/fill" 2> /dev/null
	check "full: the disk is full" 0 "$(df --output=avail -B1 "$data" | tail -n 1 | tr -d ' ')"
	got=$(status POST "$url/v2/full/img/blobs/uploads/?digest=$blob2" --data-binary "@$work/blob2" -D "$work/h")
	check "full: single POST → 507" 507 "$got"
	check "full: OCI error body" "UNKNOWN the registry's storage is full" \
	    "$(/usr/bin/python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["errors"][0]; print(e["code"], e["message"])' "$work/body" 2>&1)"
	check "full: JSON with the registry header" "application/json registry/2.0" \
	    "$(header Content-Type "$work/h") $(header Docker-Distribution-API-Version "$work/h")"
	check "full: PATCH → 507" 507 "$(status PATCH "$url$loc" --data-binary "@$work/blob2" -H 'Content-Type: application/octet-stream')"
	check "full: blob not visible" 404 "$(status HEAD -I "$url/v2/full/img/blobs/$blob2")"
	check "full: no file added under blobs/" "$before" "$(find "$data/blobs" -type f | wc -l)"
	check "full: no body left behind" 0 "$(find "$data/uploads/body" -type f | wc -l)"
	check "full: pulls still work" 200 "$(status GET "$url/v2/full/img/manifests/v1")"
	# The workers' counters (run/metrics, a shared map) were made before
	# the disk filled: a request touching a counter page for the first
	# time must not find it unallocated (SIGBUS).
	# Every metadata write refuses with 507, deletes included.
	check "full: upload DELETE → 507" 507 "$(status DELETE "$url$loc")"
	check "full: blob DELETE → 507" "507 UNKNOWN" \
	    "$(status DELETE "$url/v2/full/img/blobs/$config") $(oci_code "$work/body")"
	check "full: tag DELETE → 507" 507 "$(status DELETE "$url/v2/full/img/manifests/v1")"
	mdigest=sha256:$(sha "$work/manifest")
	check "full: manifest DELETE → 507" 507 "$(status DELETE "$url/v2/full/img/manifests/$mdigest")"
	check "full: nothing went" "200 200 204" \
	    "$(status HEAD -I "$url/v2/full/img/blobs/$config") $(status HEAD -I "$url/v2/full/img/manifests/v1") $(status GET "$url$loc")"
	check "full: no worker died" 0 "$(grep -c -E 'exited with status|AddressSanitizer' "$data/run/berth.log")"
	rm -f "$data/fill"
	check "full: space freed, push works" 201 \
	    "$(status POST "$url/v2/full/img/blobs/uploads/?digest=$blob2" --data-binary "@$work/blob2")"
	curl -s -o "$work/got" "$url/v2/full/img/blobs/$blob2"
	check "full: and the blob is served" "${blob2:7}" "$(sha "$work/got")"
	check "full: database intact" ok "$(sqlite3 "$data/berth.db" 'pragma integrity_check')"
	# nginx's other refusals of its own carry OCI bodies too.
	long=$(head -c 20000 /dev/zero | tr '\0' a)
	check "nginx 414: OCI body" "414 UNSUPPORTED" \
	    "$(status GET "$url/v2/$long/tags/list") $(oci_code "$work/body")"
	port=${url##*:}
	check "nginx 400: OCI body" "400 UNSUPPORTED" "$(/usr/bin/python3 -c '
import json, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
r = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    r += b
head, _, body = r.partition(b"\r\n\r\n")
print(head.split()[1].decode(), json.loads(body)["errors"][0]["code"])
' "$port" 2>&1)"
else
	echo "ok - full: skipped (mount -t tmpfs needs root)"
fi

# --- killed processes --------------------------------------------------

start killed "[server]
workers = 2" || true
check "killed: push" 201 "$(push_image k/img v1)"
parent=$(cat "$data/run/berth.pid")
workers=$(pgrep -P "$parent" | tr '\n' ' ')
check "killed: two workers" 2 "$(echo $workers | wc -w)"
kill -9 ${workers%% *}
sleep 1.5
check "killed worker: restarted" 2 "$(pgrep -P "$parent" | wc -l)"
curl -s -o "$work/got" "$url/v2/k/img/blobs/$blob"
check "killed worker: registry keeps serving" "${blob:7}" "$(sha "$work/got")"
kill -9 "$parent"
sleep 0.5
left=0
for w in $workers $(pgrep -f "berth.* -d $data" || true); do
	# A zombie is gone already (this container's init may not reap it).
	case $(ps -o stat= -p "$w" 2>/dev/null) in
	""|Z*) ;;
	*) left=$((left + 1)); ps -o pid,ppid,cmd -p "$w" | tail -n 1 ;;
	esac
done
check "killed parent: no worker outlives it" 0 "$left"

# --- configuration errors ----------------------------------------------

printf '[storage]\ndata_dir = %s/x\n\n[registry]\nread_onyl = true\n' "$work" > "$work/bad.ini"
msg=$("$BERTH" -t -c "$work/bad.ini" 2>&1); rc=$?
check "config: unknown key stops start-up" 1 "$rc"
check "config: message names file, line, key" "berth: $work/bad.ini:5: [registry] read_onyl: unknown key" "$msg"
printf '[blob.fs]\noffload = carrier-pigeon\n' > "$work/bad2.ini"
msg=$("$BERTH" -t -c "$work/bad2.ini" 2>&1); rc=$?
check "config: bad value stops start-up" "1 berth: $work/bad2.ini:2: [blob.fs] offload: bad value \"carrier-pigeon\": expected one of x-accel, x-sendfile, stream" "$rc $msg"
printf '[storage]\ndata_dir = %s/x\n[blob.fs]\noffload = stream\n[blob.redirect]\nurl = ftp://cdn\n' "$work" > "$work/other.ini"
msg=$("$BERTH" -t -c "$work/other.ini" 2>&1); rc=$?
check "config: the section of a handler not in use is left alone" 0 "$rc"
printf '[storage]\ndata_dir = %s/x\nblob_handler = redirect\n[blob.redirect]\nurl = ftp://cdn\n' "$work" > "$work/bad3.ini"
msg=$("$BERTH" -t -c "$work/bad3.ini" 2>&1); rc=$?
check "config: a handler checks its own section" "1 berth: $work/bad3.ini:5: [blob.redirect] url: bad value \"ftp://cdn\": expected an http:// or https:// URL" "$rc $msg"
printf '[storage]\ndata_dir = %s/x\nblob_handler = s4\n' "$work" > "$work/bad4.ini"
msg=$("$BERTH" -t -c "$work/bad4.ini" 2>&1); rc=$?
check "config: an unknown blob handler is refused" "1 berth: $work/bad4.ini:3: [storage] blob_handler: bad value \"s4\": no blob handler of that name in this build" "$rc $msg"
printf '[storage]\ndata_dir = %s/m\n[metadata]\nbackend = pg\n' "$work" > "$work/bad5.ini"
msg=$("$BERTH" -t -c "$work/bad5.ini" 2>&1); rc=$?
check "config: an unknown metadata backend is refused" "1 berth: $work/bad5.ini:4: [metadata] backend: bad value \"pg\": no metadata backend of that name in this build" "$rc $msg"
check "config: and nothing is created for it" "no" "$([ -e "$work/m/berth.db" ] && echo yes || echo no)"
printf '[storage]\ndata_dir = %s/t\n[metadata.sqlit]\npath = meta.db\n' "$work" > "$work/typo.ini"
msg=$("$BERTH" -t -c "$work/typo.ini" 2>&1); rc=$?
check "config: the section of a backend not in this build is refused" "1 berth: $work/typo.ini:4: [metadata.sqlit] path: unknown key" "$rc $msg"
# An existing data directory: -t opens the store, as serving does.
mkdir -p "$work/m"
printf '[storage]\ndata_dir = %s/m\n[metadata.sqlite]\npath = meta.db\n' "$work" > "$work/meta.ini"
msg=$("$BERTH" -t -c "$work/meta.ini" 2>&1 >/dev/null); rc=$?
check "config: [metadata.sqlite] path names the database" "0 yes no" \
    "$rc $([ -s "$work/m/meta.db" ] && echo yes || echo no) $([ -e "$work/m/berth.db" ] && echo yes || echo no)"
msg=$("$BERTH" -c "$work/meta.ini" repos 2>&1 >/dev/null); rc=$?
check "config: the operator commands open it too" "0 " "$rc $msg"
printf '[storage]\ndata_dir = %s/m\n[metadata.sqlite]\npath = none.db\n' "$work" > "$work/meta2.ini"
msg=$("$BERTH" -c "$work/meta2.ini" repos 2>&1); rc=$?
check "config: and refuse a database that is not there" "1 berth repos: no registry database at $work/m/none.db (wrong -d, -c or BERTH_CONFIG?)" "$rc $msg"
printf '[storage]\ndata_dir = %s/x\nblob_handler = redirect\nredirect_url = https://cdn.example.org/r\n' "$work" > "$work/old.ini"
msg=$("$BERTH" -t -c "$work/old.ini" 2>&1 >/dev/null); rc=$?
check "config: keys of berth 0.1 still work" 0 "$rc"
check "config: and say where they moved" "berth: $work/old.ini: [storage] redirect_url is deprecated; write it as [blob.redirect] url" "$msg"
printf '[storage]\ndata_dir = %s/x\noffload = stream\n' "$work" > "$work/old2.ini"
msg=$("$BERTH" -t -c "$work/old2.ini" 2>&1 >/dev/null); rc=$?
check "config: [storage] offload of berth 0.1 still works, with a notice" "0 berth: $work/old2.ini: [storage] offload is deprecated; write it as [blob.fs] offload" "$rc $msg"
# -t creates nothing for a data directory that does not exist yet (a
# mistyped DATA_DIR must not become a new, empty registry), and so
# neither does `make stop`, which reads it through -t.
msg=$("$BERTH" -t -d "$work/typo/var" 2>&1); rc=$?
check "config: -t on a missing data directory prints what serving would use" \
    "0 data_dir=$work/typo/var body_dir=$work/typo/var/uploads/body" \
    "$rc $(printf '%s\n' "$msg" | grep -E '^(data_dir|body_dir)=' | tr '\n' ' ' | sed 's/ $//')"
check "config: and creates nothing" no "$([ -e "$work/typo" ] && echo yes || echo no)"
printf '[blob.fs]\nofload = stream\n' > "$work/typo.ini"
msg=$("$BERTH" -t -c "$work/typo.ini" -d "$work/typo/var" 2>&1); rc=$?
check "config: -t on a missing data directory still checks every key" \
    "1 berth: $work/typo.ini:2: [blob.fs] ofload: unknown key no" \
    "$rc $msg $([ -e "$work/typo" ] && echo yes || echo no)"
DATA_DIR=$work/typo/var BERTH=$BERTH "$top/nginx/serve.sh" stop > /dev/null 2>&1
check "make stop with a mistyped DATA_DIR creates nothing" no "$([ -e "$work/typo" ] && echo yes || echo no)"
