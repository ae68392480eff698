#!/bin/sh
# run.sh -- reads without a worker (fastpath.py): behind nginx, manifests
# by digest and blobs answered by nginx from <data_dir>/pub exactly as the
# worker answers them (a twin nginx without the fast path, same pool),
# with the pool stopped, for hostile and edge requests, through deletes,
# gc and fsck; no fast path with fast_reads = false or [auth] enabled.
# BERTH names the binary (default build/berth); the last line is "N
# passed, N failed"; the exit status is non-zero on any failure.
top=$(cd "$(dirname "$0")/../.." && pwd)
BERTH=${BERTH:-$top/build/berth}
export BERTH
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 "$top/tests/fastpath/fastpath.py"
