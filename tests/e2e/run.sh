#!/bin/bash
# tests/e2e/run.sh -- run the end-to-end spec suite against real nginx + berth.
#
# Env:
#   BERTH               the binary under test (default build/berth, relative to
#                       the repository root)
#   SANITIZER_LOG_CHECK 1: fail when a berth log holds an ASan/UBSan report
#   E2E_ONLY            optional: run only tests whose name contains this
#   KEEP_TMP            1: keep the temporary data directories
#   E2E_CONFIG_EXTRA    optional: INI text added to every server's
#                       configuration, with @NAME@ replaced by the server's
#                       name (tests/pg/run.sh: [metadata] backend =
#                       postgresql, a schema per server)
#
# Two passes, each against fresh data directories under one mktemp -d:
#   x-accel  the default configuration (nginx sends blob files through
#            X-Accel-Redirect), plus three small side registries for the
#            configuration tests: delete_enabled = false, read_only = true
#            (seeded first, then restarted read-only) and a 3 s upload_expiry;
#   stream   [blob.fs] offload = stream: the worker sends blob bytes itself.
# With E2E_BLOB_CONFIG set (INI lines choosing a blob handler and its
# section, one per line; tests/s3 sets it), one pass instead, labelled
# E2E_LABEL, against a registry with that configuration; afterwards its
# data directory must hold no blob bytes: no file under blobs/, and in
# uploads/ only the staging files of sessions the suite left open (as
# `berth uploads` lists them), none of a finished push.
# Servers are started and stopped with nginx/serve.sh (always stopped, by a
# trap).  The last line printed is "N passed, N failed"; exit 1 on failure.

set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/e2e
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1
SERVE=$ROOT/nginx/serve.sh
BERTH=${BERTH:-build/berth}
case $BERTH in
/*) ;;
*) BERTH=$ROOT/$BERTH ;;
esac
EXPIRY_SECONDS=3

TMP=$(mktemp -d /tmp/berth-e2e.XXXXXX)
chmod 755 "$TMP"
# nginx's unprivileged workers must be able to reach the data directories
d=$(dirname "$TMP")
while [ "$d" != / ]; do chmod o+x "$d" 2>/dev/null; d=$(dirname "$d"); done

RUNNING=""      # names of servers currently started
ALL=""          # names of every server started, for the sanitizer check
PASSED=0
FAILED=0

stop_server() {
	local name=$1
	env -u BERTH_CONFIG DATA_DIR="$TMP/$name" BERTH="$BERTH" "$SERVE" stop \
		>>"$TMP/$name.serve.log" 2>&1
	RUNNING=$(echo "$RUNNING" | tr ' ' '\n' | grep -vx "$name" | tr '\n' ' ')
}

cleanup() {
	local name
	for name in $RUNNING; do
		stop_server "$name"
	done
	[ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server NAME [INI LINES...] -- sets PORT_<NAME>; returns non-zero on failure
start_server() {
	local name=$1 port cfg=""
	shift
	mkdir -p "$TMP/$name"
	chmod 755 "$TMP/$name"
	if [ -n "${E2E_CONFIG_EXTRA:-}" ]; then
		[ $# -gt 0 ] || set -- "[storage]" "data_dir = $TMP/$name"
		set -- "$@" "${E2E_CONFIG_EXTRA//@NAME@/$name}"
	fi
	if [ $# -gt 0 ]; then
		cfg=$TMP/$name.ini
		printf '%s\n' "$@" >"$cfg"
		chmod 644 "$cfg"
	fi
	port=$(free_port)
	local envs=(PORT="$port" DATA_DIR="$TMP/$name" BERTH="$BERTH")
	[ -n "$cfg" ] && envs+=(BERTH_CONFIG="$cfg")
	if ! env -u BERTH_CONFIG "${envs[@]}" "$SERVE" start >>"$TMP/$name.serve.log" 2>&1; then
		echo "e2e: could not start the '$name' server (port $port):" >&2
		tail -n 30 "$TMP/$name.serve.log" "$TMP/$name/run/berth.log" \
			"$TMP/$name/run/nginx-error.log" 2>/dev/null | sed 's/^/    /' >&2
		# a failed start may have left half of it running
		RUNNING="$RUNNING $name"
		stop_server "$name"
		return 1
	fi
	RUNNING="$RUNNING $name"
	case " $ALL " in *" $name "*) ;; *) ALL="$ALL $name" ;; esac
	printf -v "PORT_$name" '%s' "$port"
	return 0
}

# run_suite LABEL -- runs the python suite with the BERTH_URL* already exported
run_suite() {
	local label=$1 out=$TMP/$1.out last
	local args=(--label "$label")
	[ -n "${E2E_ONLY:-}" ] && args+=(-k "$E2E_ONLY")
	$PY "$HERE/suite.py" "${args[@]}" 2>&1 | tee "$out"
	last=$(tail -n 1 "$out")
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		PASSED=$((PASSED + BASH_REMATCH[1]))
		FAILED=$((FAILED + BASH_REMATCH[2]))
	else
		echo "e2e: the $label suite did not finish" >&2
		FAILED=$((FAILED + 1))
	fi
}

if [ ! -x "$BERTH" ]; then
	echo "e2e: $BERTH is not an executable (build it first)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
if [ ! -x "$SERVE" ]; then
	echo "e2e: $SERVE is missing" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

# ---- or: one pass with the blob handler E2E_BLOB_CONFIG chooses ----
if [ -n "${E2E_BLOB_CONFIG:-}" ]; then
	label=${E2E_LABEL:-blob}
	echo "== e2e: $label =="
	mapfile -t blob_lines <<<"$E2E_BLOB_CONFIG"
	if start_server blob "[storage]" "data_dir = $TMP/blob" "${blob_lines[@]}"; then
		(
			export BERTH_URL=http://127.0.0.1:$PORT_blob
			unset BERTH_URL_NODELETE BERTH_URL_READONLY BERTH_URL_EXPIRY
			run_suite "$label"
			echo "$PASSED $FAILED" >"$TMP/blob.counts"
		)
		read -r PASSED FAILED <"$TMP/blob.counts"
		stop_server blob
		sessions=$("$BERTH" -c "$TMP/blob.ini" uploads --json 2>&1) ||
			sessions="berth uploads failed: $sessions"
		left=$(find "$TMP/blob/blobs" "$TMP/blob/uploads" -type f 2>/dev/null |
			while read -r f; do
				case $f in
				*/uploads/*) printf '%s' "$sessions" |
					grep -q "\"uuid\": \"${f##*/}\"" && continue ;;
				esac
				echo "$f"
			done)
		case $sessions in "berth uploads failed"*) left="$left $sessions" ;; esac
		if [ -z "$left" ]; then
			echo "ok - $label: the registry host keeps no blob bytes"
			PASSED=$((PASSED + 1))
		else
			echo "not ok - $label: blob bytes left on the host:" $left
			FAILED=$((FAILED + 1))
		fi
	else
		FAILED=$((FAILED + 1))
	fi
fi

# ---- pass 1: default configuration (X-Accel-Redirect) + side registries ----
if [ -z "${E2E_BLOB_CONFIG:-}" ]; then
echo "== e2e pass 1: default configuration (x-accel) =="
ok=1
start_server main || ok=0
start_server nodelete "[storage]" "data_dir = $TMP/nodelete" \
	"[registry]" "delete_enabled = false" || ok=0
start_server expiry "[storage]" "data_dir = $TMP/expiry" \
	"[registry]" "upload_expiry = ${EXPIRY_SECONDS}s" || ok=0
if start_server readonly; then
	if ! $PY "$HERE/seed.py" "http://127.0.0.1:$PORT_readonly" >"$TMP/seed.log" 2>&1; then
		echo "e2e: seeding the read-only registry failed:" >&2
		sed 's/^/    /' "$TMP/seed.log" >&2
		ok=0
	fi
	stop_server readonly
	start_server readonly "[storage]" "data_dir = $TMP/readonly" \
		"[registry]" "read_only = true" || ok=0
else
	ok=0
fi
[ $ok = 1 ] || FAILED=$((FAILED + 1))

if [ -n "${PORT_main:-}" ]; then
	(
		export BERTH_URL=http://127.0.0.1:$PORT_main
		[ -n "${PORT_nodelete:-}" ] && export BERTH_URL_NODELETE=http://127.0.0.1:$PORT_nodelete
		[ -n "${PORT_readonly:-}" ] && export BERTH_URL_READONLY=http://127.0.0.1:$PORT_readonly
		[ -n "${PORT_expiry:-}" ] && export BERTH_URL_EXPIRY=http://127.0.0.1:$PORT_expiry
		export BERTH_EXPIRY_SECONDS=$EXPIRY_SECONDS
		export BERTH_DATA_DIR_EXPIRY=$TMP/expiry
		run_suite x-accel
		echo "$PASSED $FAILED" >"$TMP/pass1.counts"
	)
	read -r PASSED FAILED <"$TMP/pass1.counts"
fi
for name in $RUNNING; do stop_server "$name"; done

# ---- pass 2: the worker streams blob bytes itself ----
echo "== e2e pass 2: [blob.fs] offload = stream =="
if start_server stream "[storage]" "data_dir = $TMP/stream" "[blob.fs]" "offload = stream"; then
	(
		export BERTH_URL=http://127.0.0.1:$PORT_stream
		unset BERTH_URL_NODELETE BERTH_URL_READONLY BERTH_URL_EXPIRY
		run_suite stream
		echo "$PASSED $FAILED" >"$TMP/pass2.counts"
	)
	read -r PASSED FAILED <"$TMP/pass2.counts"
	stop_server stream
else
	FAILED=$((FAILED + 1))
fi
fi	# the two default passes

# ---- sanitizer reports in the worker logs ----
if [ "${SANITIZER_LOG_CHECK:-0}" = 1 ]; then
	for name in $ALL; do
		log=$TMP/$name/run/berth.log
		if [ -f "$log" ] && grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' "$log"; then
			echo "e2e: sanitizer report in the '$name' server's berth.log:" >&2
			grep -n -A 12 -e 'ERROR: AddressSanitizer' -e 'runtime error:' "$log" \
				| head -n 80 | sed 's/^/    /' >&2
			FAILED=$((FAILED + 1))
		fi
	done
fi

if [ "$FAILED" -gt 0 ]; then
	for name in $ALL; do
		for f in "$TMP/$name/run/berth.log" "$TMP/$name/run/nginx-error.log"; do
			[ -s "$f" ] || continue
			echo "---- last lines of $name/${f##*/} ----"
			tail -n 15 "$f"
		done
	done
fi

[ "${KEEP_TMP:-0}" = 1 ] && echo "e2e: data directories kept in $TMP"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
