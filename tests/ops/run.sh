#!/bin/sh
# run.sh -- the operator command line end to end (issue 7): a registry
# behind real nginx, filled by real pushes, inspected, garbage-collected
# (also under concurrent pushes and pulls), expired and checked by
# `berth repos|tags|show|du|audit|gc|uploads|fsck`.  The work is in
# ops.py (python3 standard library only).
#   BERTH               the binary (default build/berth)
#   SANITIZER_LOG_CHECK fail on sanitizer reports in the logs when 1
#   OPS_STRESS_SECONDS  length of the gc stress test (default 20)
# Prints "N passed, N failed" last; exits non-zero on any failure.
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/ops.py" "$@"
