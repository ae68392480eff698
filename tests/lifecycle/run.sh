#!/bin/sh
# run.sh -- the pool's lifecycle (lifecycle.py): behind nginx, graceful
# stop and restart while an upload body arrives, restart under load, crash
# back-off, a killed pool under `serve.sh run`; behind Apache (bodies
# streamed to the worker), stop mid-PATCH and the drain deadline's 503.  BERTH names the binary (default build/berth); the last
# line is "N passed, N failed"; the exit status is non-zero on any failure.
top=$(cd "$(dirname "$0")/../.." && pwd)
BERTH=${BERTH:-$top/build/berth}
export BERTH
exec /usr/bin/python3 "$top/tests/lifecycle/lifecycle.py"
