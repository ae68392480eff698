#!/bin/sh
# run.sh -- the CGI golden exchanges (issue 10.7): build/berth run as a
# plain CGI program, one process per request, each response compared byte
# for byte with its golden in tests/cgi/cases/.  No web server.  The work
# is in golden.py (python3 standard library only), which documents the
# case syntax, GOLDEN_UPDATE=1 and the EXPECTED_FAIL list.
#   BERTH  the binary (default build/berth)
# Prints "N passed, N failed, N expected to fail" last; exits non-zero on
# any failure.
here=$(cd "$(dirname "$0")" && pwd)
PYTHONDONTWRITEBYTECODE=1 exec /usr/bin/python3 "$here/golden.py" "$@"
