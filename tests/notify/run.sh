#!/bin/sh
# run.sh -- event notifications (notify.py): behind nginx, two local
# receivers, the envelope field by field, the HMAC signature, a receiver
# down for part of the run losing nothing, `berth notify status`, no
# outbox rows without [notify]; the PostgreSQL backend too when
# BERTH_TEST_PG_DSN is set.  BERTH names the binary (default
# build/berth); the last line is "N passed, N failed"; the exit status is
# non-zero on any failure.
top=$(cd "$(dirname "$0")/../.." && pwd)
BERTH=${BERTH:-$top/build/berth}
export BERTH
exec /usr/bin/python3 "$top/tests/notify/notify.py"
