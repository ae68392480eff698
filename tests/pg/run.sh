#!/bin/bash
# tests/pg/run.sh -- berth on PostgreSQL ([metadata] backend = postgresql),
# end to end, against a real server from Debian's `postgresql` package:
#   1. the e2e spec suite behind nginx (tests/e2e/run.sh with
#      E2E_CONFIG_EXTRA: every registry it starts on PostgreSQL, each in a
#      schema of its own)
#   2. the operator commands, gc under load included (tests/ops with
#      OPS_PG_DSN)
#   3. several hosts (hosts.py): PostgreSQL restarted under load (503s,
#      then service resumes by itself), a host started while it is down
#      (503s, then it serves), and two berth hosts -- two worker
#      pools behind two nginx instances, one database, one blob store --
#      that behave as one registry, gc across them included; two with
#      [auth] on; two sharing only PostgreSQL and the object store
#      (blob_handler = s3; with BERTH_S3_DIR) continuing each other's
#      upload sessions
#   4. `berth migrate --from sqlite:PATH --to postgresql:DSN` (migrate.py):
#      every row arrives (users, CI tokens and grants included), the
#      operator commands answer the same, the registry serves on from
#      PostgreSQL
#   5. access control on PostgreSQL: the whole of tests/auth behind nginx
#      with [metadata] backend = postgresql (AUTH_CONFIG_EXTRA): users,
#      grants, CI tokens and the `berth user|token|grant|revoke` commands
#      against the database, the token flow, real clients.  (Two hosts
#      with [auth] on sharing users: hosts.py's auth scenario, in 3.)
#
# The server: BERTH_TEST_PG_DSN and BERTH_TEST_PG_DIR when tests/run.sh
# started one (hosting/pg-local.sh), else one of its own in a temporary
# directory, stopped on exit.
# Env: BERTH (default build/berth), SANITIZER_LOG_CHECK, PG_ONLY (e2e,
# ops, hosts, migrate or auth: run only that part).
# Prints "N passed, N failed" last; exits non-zero on any failure.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/pg
BERTH=${BERTH:-build/berth}
case $BERTH in
/*) ;;
*) BERTH=$ROOT/$BERTH ;;
esac
export BERTH
export PYTHONDONTWRITEBYTECODE=1	# hosts.py and migrate.py import tests/ops/ops.py

own=""
if [ -z "${BERTH_TEST_PG_DSN:-}" ] || [ -z "${BERTH_TEST_PG_DIR:-}" ]; then
	own=$(mktemp -d /tmp/berth-pg-XXXXXX)
	if ! BERTH_TEST_PG_DSN=$("$ROOT/hosting/pg-local.sh" start "$own"); then
		echo "pg: PostgreSQL did not start"
		echo "0 passed, 1 failed"
		exit 1
	fi
	BERTH_TEST_PG_DIR=$own
	trap '"$ROOT/hosting/pg-local.sh" stop "$own" > /dev/null 2>&1; rm -rf "$own"' EXIT
fi
export BERTH_TEST_PG_DSN BERTH_TEST_PG_DIR

passed=0
failed=0
out=$(mktemp)
# part LABEL COMMAND...: run it, add up its last "N passed, N failed".
part() {
	local label=$1 line rc
	shift
	case ${PG_ONLY:-$label} in
	"$label") ;;
	*) return ;;
	esac
	echo "== pg: $label"
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	if [ -z "$line" ]; then
		echo "pg: $label printed no summary; counting it as one failure"
		failed=$((failed + 1))
		return
	fi
	passed=$((passed + ${line%% passed*}))
	f=${line#*, }; f=${f%% failed*}
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		failed=$((failed + 1))
	fi
}

run=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
E2E_CONFIG_EXTRA=$(printf '[metadata]\nbackend = postgresql\n[metadata.postgresql]\ndsn = %s\nschema = e2e_%s_@NAME@' \
    "$BERTH_TEST_PG_DSN" "$run")
part e2e env SERVER=nginx E2E_CONFIG_EXTRA="$E2E_CONFIG_EXTRA" "$ROOT/tests/e2e/run.sh"
part ops env OPS_PG_DSN="$BERTH_TEST_PG_DSN" "$ROOT/tests/ops/run.sh"
part hosts /usr/bin/python3 "$HERE/hosts.py"
part migrate /usr/bin/python3 "$HERE/migrate.py"
AUTH_CONFIG_EXTRA=$(printf '[metadata]\nbackend = postgresql\n[metadata.postgresql]\ndsn = %s\nschema = auth_%s' \
    "$BERTH_TEST_PG_DSN" "$run")
part auth env SERVER=nginx AUTH_CONFIG_EXTRA="$AUTH_CONFIG_EXTRA" "$ROOT/tests/auth/run.sh"
rm -f "$out"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
