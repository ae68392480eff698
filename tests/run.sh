#!/bin/sh
# run.sh BUILD_DIR -- every test layer, against the binaries in BUILD_DIR
# (make test passes build/asan: ASan + UBSan), in this order:
#   1. unit tests (cmocka): validators and router; the manifest parser;
#      the configuration reader; grants and scopes; S3 signing (against
#      botocore's signer)
#   2. the backend suite (cmocka): every blob handler, faults included;
#      the s3 rows against a real object store (hosting/s3-local.sh:
#      OpenStack Swift with s3api on loopback), started here for the run
#      and used again by layer 13
#   3. the metadata backend suite (cmocka): every metadata backend
#   4. CGI golden exchanges (tests/cgi): berth as a plain CGI program, each
#      response compared byte for byte; no web server
#   5. end-to-end spec suite (tests/e2e), in each offload mode
#   6. real clients -- skopeo, podman, docker, buildah, ctr -- with real
#      images (tests/clients)
#   7. access control (tests/auth): the token flow, Basic, grants, hostile
#      tokens and scopes, real clients logging in; CGI without re-hashing
#   8. storage end to end: read-only, redirect, offload modes, injected faults
#   9. the operator commands, gc under load included (tests/ops)
#  10. PostgreSQL (tests/pg): e2e and ops with [metadata] backend =
#      postgresql, the database restarted under load, two berth hosts
#      sharing one database and one blob store
#  11. the worker pool's lifecycle behind nginx (tests/lifecycle): stop
#      and restart while an upload body arrives, restart under load, crash
#      back-off, a killed pool; behind Apache (when SERVERS has apache),
#      the worker-side drain: stop mid-PATCH, the deadline's 503
#  12. metrics and health (tests/metrics): behind nginx, counters rising
#      by exactly the requests made from several workers, gc and fsck
#      results, health 503 and back, loopback only, the access log and
#      access_log = false; the notify socket protocol; the counters in
#      plain CGI mode
#  13. blobs in the object store (tests/s3): the e2e suite and skopeo/podman
#      with blob_handler = s3 (presigned, proxy), redirects with Range, the
#      store stopped mid-push, gc and fsck against it; behind nginx
#  14. the web server shapes (tests/hosts): big chunked uploads, Range,
#      offload headers, Locations under a prefix, skopeo, per shape
#  15. the build (tests/build): `make` runs no package check, `make
#      install DESTDIR PREFIX` lays out the tree, the installed binary
#      accepts the installed example configurations; `make uninstall`
#  16. slow clients (tests/slow): no worker waits on a client, per shape;
#      no idle kept connection pins a worker (nginx); body files handed
#      over by nginx cleaned up; hostile ones refused
#  17. event notifications (tests/notify): behind nginx, two local
#      receivers, the envelope field by field, the HMAC signature, a
#      receiver down for part of the run losing nothing, `berth notify
#      status`, no outbox rows without [notify]; the same events from the
#      PostgreSQL backend
#  18. reads without a worker (tests/fastpath): behind nginx, manifests by
#      digest and blobs answered by nginx from <data_dir>/pub exactly as
#      the worker answers them (status, every header, bytes; a twin nginx
#      without the fast path in front of the same pool), with every
#      process of the pool stopped, hostile and edge requests, deletes,
#      gc and fsck keeping the files in step; no fast path with
#      fast_reads = false or [auth] enabled
# Layers 5, 6, 7, 14 and 16 run once per web server shape in SERVERS
# (default: nginx lighttpd apache apache-cgi), with SERVER set:
# nginx/serve.sh, which they start the registry with, brings up that
# shape -- what differs between shapes (request and body handling, blob
# offload, Locations) is tested in each.  8 to 13, 17 and 18 run behind
# nginx only: they test the store and the pool, which are the same in every
# shape (11 also behind Apache, the one shape that streams a body to a
# worker; 18 tests what only nginx has).
# Each layer prints "N passed, N failed" last; this script adds them up,
# prints the total the same way, and exits non-zero on any failure.
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

# Sanitizers: every report fails the run (the e2e runners grep the
# worker's log for them); leaks are checked in the unit tests, not in
# long-lived workers that exit by signal.
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0
export SANITIZER_LOG_CHECK=1
export BERTH="$top/$build/berth"

total_pass=0
total_fail=0
log=$(mktemp)

# Add up the last "N passed, N failed" line of a layer's output.
count() {
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "run.sh: $1 printed no summary; counting it as one failure"
		total_fail=$((total_fail + 1))
		return
	fi
	p=${line%% passed*}
	f=${line#*, }; f=${f%% failed*}
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "run.sh: $1 exited $2; counting it as one failure"
		total_fail=$((total_fail + 1))
	fi
}

# One layer's command: its output shown as it comes, then counted.
run_layer() {
	name=$1
	shift
	echo "== $name"
	{ "$@" 2>&1; echo $? > "$log.rc"; } | tee "$log"
	count "$name" "$(cat "$log.rc")"
}

# A cmocka program: its OK and FAILED lines become "N passed, N failed".
cmocka_layer() {
	echo "== $1"
	ASAN_OPTIONS=detect_leaks=1 "$top/$build/$2" > "$log" 2>&1
	rc=$?
	cat "$log"
	n=$(grep -c '^\[       OK \]' "$log")
	bad=$(grep -c '^\[  FAILED  \] [a-z]' "$log")
	[ "$rc" -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
	echo "$n passed, $bad failed" > "$log"
	count "$1" "$rc"
}

# The servers this run starts for its layers -- an object store and a
# PostgreSQL -- are stopped on exit, whichever have started.
s3dir=$(mktemp -d /tmp/berth-s3.XXXXXX)
pgdir=$(mktemp -d /tmp/berth-pg-XXXXXX)
stop_servers() {
	"$top/hosting/s3-local.sh" stop "$s3dir" >/dev/null 2>&1
	rm -rf "$s3dir"
	"$top/hosting/pg-local.sh" stop "$pgdir" >/dev/null 2>&1
	rm -rf "$pgdir"
}
trap stop_servers EXIT
trap 'exit 130' INT TERM

# One object store for the layers that need it (2 and 13).
if "$top/hosting/s3-local.sh" start "$s3dir" > "$s3dir.start.log" 2>&1; then
	export BERTH_S3_DIR="$s3dir"
else
	echo "run.sh: the object store did not start (the s3 rows will fail):"
	cat "$s3dir.start.log"
fi
rm -f "$s3dir.start.log"

cmocka_layer "unit tests" unit-tests
cmocka_layer "unit tests: manifest parser" unit-manifest
cmocka_layer "unit tests: configuration" unit-config
cmocka_layer "unit tests: grants and scopes" unit-grant
cmocka_layer "unit tests: S3 signing (vs botocore)" unit-s3sign
cmocka_layer "backend suite (every blob handler)" backend-tests
# A PostgreSQL server of its own (hosting/pg-local.sh: a unix socket in a
# temporary directory) for the postgresql rows of the metadata backend
# suite and for tests/pg; stopped on exit.
if BERTH_TEST_PG_DSN=$("$top/hosting/pg-local.sh" start "$pgdir"); then
	export BERTH_TEST_PG_DSN BERTH_TEST_PG_DIR="$pgdir"
else
	echo "run.sh: PostgreSQL did not start; counting it as one failure"
	total_fail=$((total_fail + 1))
fi
cmocka_layer "metadata backend suite (every metadata backend)" meta-tests

run_layer "cgi (golden exchanges)" "$top/tests/cgi/run.sh"

SERVERS=${SERVERS:-nginx lighttpd apache apache-cgi}
export SERVERS
for layer in e2e clients auth; do
	for shape in $SERVERS; do
		run_layer "$layer ($shape)" env SERVER="$shape" "$top/tests/$layer/run.sh"
	done
done
for layer in storage ops pg lifecycle metrics s3; do
	run_layer "$layer" "$top/tests/$layer/run.sh"
done
run_layer "hosts ($SERVERS)" "$top/tests/hosts/run.sh"
run_layer "build and install" "$top/tests/build/run.sh"
run_layer "slow clients ($SERVERS)" "$top/tests/slow/run.sh"
run_layer "notify" "$top/tests/notify/run.sh"
run_layer "fastpath (nginx)" "$top/tests/fastpath/run.sh"
rm -f "$log" "$log.rc"

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
