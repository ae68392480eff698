#!/bin/sh
# run.sh -- the pool's lifecycle behind nginx (lifecycle.py): graceful
# stop mid-upload, restart under load, crash back-off, a killed pool under
# `serve.sh run`.  BERTH names the binary (default build/berth); the last
# line is "N passed, N failed"; the exit status is non-zero on any failure.
top=$(cd "$(dirname "$0")/../.." && pwd)
BERTH=${BERTH:-$top/build/berth}
export BERTH
exec /usr/bin/python3 "$top/tests/lifecycle/lifecycle.py"
