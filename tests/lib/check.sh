# check.sh -- the checks the shell test layers share; a layer sources it
# (. "$top/tests/lib/check.sh") and prints "$pass passed, $fail failed"
# last.  POSIX sh, for sh and bash layers alike.
#   ok NAME              one check passed
#   not_ok NAME WHY      one check failed, and why
#   check NAME WANT GOT  passed when GOT is WANT, else failed with both
#   free_port            prints a TCP port free on 127.0.0.1
pass=0
fail=0

ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1: $2"; fail=$((fail + 1)); }
check() {	# check NAME WANT GOT
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want [$2], got [$3]"; fi
}

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
