#!/bin/sh
# run.sh -- the web server shapes suite (hosts.py) with the conventions of
# every layer: BERTH names the binary (default build/berth), SERVERS the
# shapes (default: nginx lighttpd apache apache-cgi); the last line is
# "N passed, N failed"; the exit status is non-zero on any failure.
top=$(cd "$(dirname "$0")/../.." && pwd)
BERTH=${BERTH:-$top/build/berth}
export BERTH
if ! command -v python3 >/dev/null; then
	echo "run.sh: python3 is not installed"
	echo "0 passed, 1 failed"
	exit 1
fi
exec python3 "$top/tests/hosts/hosts.py"
