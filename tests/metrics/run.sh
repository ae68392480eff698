#!/bin/sh
# run.sh -- metrics, health, the access log and readiness (metrics.py):
# behind nginx, counters that rise by exactly the requests made from
# several workers, gc and fsck results, health turning 503 and back, the
# operator's endpoints refused to non-loopback clients, access_log =
# false; the notify socket protocol of the pool; the same counters in
# plain CGI mode.  BERTH names the binary (default build/berth); the last
# line is "N passed, N failed"; the exit status is non-zero on any
# failure.
top=$(cd "$(dirname "$0")/../.." && pwd)
BERTH=${BERTH:-$top/build/berth}
export BERTH
exec /usr/bin/python3 "$top/tests/metrics/metrics.py"
