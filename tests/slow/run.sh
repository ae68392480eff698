#!/bin/sh
# run.sh -- the slow-clients suite (slow.py): no worker waits on a client,
# bodies handed over as files are cleaned up, hostile body file names are
# refused.  Conventions of every layer: BERTH names the binary (default
# build/berth), SERVERS the shapes; the last line is "N passed, N failed";
# the exit status is non-zero on any failure.
top=$(cd "$(dirname "$0")/../.." && pwd)
BERTH=${BERTH:-$top/build/berth}
export BERTH
if ! command -v python3 >/dev/null; then
	echo "run.sh: python3 is not installed"
	echo "0 passed, 1 failed"
	exit 1
fi
exec /usr/bin/python3 "$top/tests/slow/slow.py"
