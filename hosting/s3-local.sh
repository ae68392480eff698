#!/bin/bash
# s3-local.sh start DIR | stop DIR | env DIR -- a real S3-compatible object
# store on loopback for development and the tests: OpenStack Swift (Debian's
# swift-proxy, swift-object, swift-container, swift-account) with its s3api
# middleware and tempauth, one account, container and object server on an
# all-in-one ring of one device, DIR/srv/d1.
#
#   start DIR   start the store with its data under DIR (created when
#               absent; a second start of the same DIR keeps its objects
#               and, when they are still free, its ports) and create the
#               bucket; print one key=value line each for endpoint,
#               region, bucket, access_key and secret_key (also kept in
#               DIR/s3.env, and the two keys in DIR/credentials, an
#               INI-style file berth's [blob.s3] credentials_file reads)
#   stop DIR    stop what start left running (the data stays)
#   env DIR     print the key=value lines again
#
# Every server listens on 127.0.0.1 only, on ports picked free at the first
# start.  Logs: DIR/run/*.log; the servers' syslog lines go to a small sink
# on DIR/run/log.sock, written to DIR/run/swift.log.  No memcached: the
# proxy's cache lookups fail fast and tempauth checks S3 signatures itself.
# Needs: swift-proxy swift-object swift-container swift-account (Debian).
set -eu

PY=/usr/bin/python3
REGION=us-east-1
BUCKET=berth
ACCOUNT=berth
USER_NAME=ci
# Loopback-only test credentials; the access key is tempauth's account:user.
ACCESS_KEY=$ACCOUNT:$USER_NAME
SECRET_KEY=berth-local-secret

die() { echo "s3-local.sh: $*" >&2; exit 1; }

free_port() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_free() {
	$PY -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}

alive() { kill -0 "$1" 2>/dev/null; }

print_env() {
	cat "$1/s3.env"
}

# Write the configuration and the rings for ports $ACC $CON $OBJ $PROXY.
configure() {
	local d=$1 etc=$1/etc me
	me=$(id -un)
	mkdir -p "$etc" "$d/srv/d1" "$d/run" "$d/cache"
	cat > "$etc/swift.conf" <<-EOF
	[swift-hash]
	swift_hash_path_prefix = berth-local
	swift_hash_path_suffix = berth-local
	[storage-policy:0]
	name = gold
	default = yes
	EOF
	local common="[DEFAULT]
bind_ip = 127.0.0.1
workers = 0
user = $me
swift_dir = $etc
devices = $d/srv
mount_check = false
log_address = $d/run/log.sock
log_level = INFO
"
	for s in account:"$ACC" container:"$CON" object:"$OBJ"; do
		printf '%sbind_port = %s\n%s' "$common" "${s#*:}" "
[pipeline:main]
pipeline = ${s%%:*}-server
[app:${s%%:*}-server]
use = egg:swift#${s%%:*}
" > "$etc/${s%%:*}-server.conf"
	done
	printf '%sbind_port = %s\n%s' "$common" "$PROXY" "
[pipeline:main]
pipeline = catch_errors gatekeeper proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true
recoverable_node_timeout = 10
node_timeout = 10
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:1
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:s3api]
use = egg:swift#s3api
location = $REGION
force_swift_request_proxy_log = false
[filter:tempauth]
use = egg:swift#tempauth
user_${ACCOUNT}_${USER_NAME} = $SECRET_KEY .admin
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
min_segment_size = 1
[filter:dlo]
use = egg:swift#dlo
" > "$etc/proxy-server.conf"
	# The rings: one replica on one device; rebuilt at every start (the
	# ports may have changed), which maps every partition to d1 again.
	local r port
	for r in account container object; do
		case $r in
		account) port=$ACC ;;
		container) port=$CON ;;
		object) port=$OBJ ;;
		esac
		rm -f "$etc/$r.builder" "$etc/$r.ring.gz"
		swift-ring-builder "$etc/$r.builder" create 6 1 1 >/dev/null
		swift-ring-builder "$etc/$r.builder" add \
		    "r1z1-127.0.0.1:$port/d1" 1 >/dev/null
		swift-ring-builder "$etc/$r.builder" rebalance >/dev/null ||
		    [ -f "$etc/$r.ring.gz" ] || die "could not build the $r ring"
	done
	printf 'ACC=%s\nCON=%s\nOBJ=%s\nPROXY=%s\n' "$ACC" "$CON" "$OBJ" \
	    "$PROXY" > "$d/ports"
}

# A datagram socket the servers' syslog handlers write to, copied to a file.
start_log_sink() {
	local d=$1
	rm -f "$d/run/log.sock"
	$PY -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536).rstrip(b"\0") + b"\n")' \
	    "$d/run/log.sock" "$d/run/swift.log" </dev/null >/dev/null 2>&1 &
	echo $! > "$d/run/sink.pid"
	local i=0
	while [ ! -S "$d/run/log.sock" ]; do
		[ $i -lt 50 ] || die "the log sink did not start"
		sleep 0.1; i=$((i + 1))
	done
}

start() {
	local d=$1 s i
	mkdir -p "$d"
	d=$(cd "$d" && pwd)
	for s in sink account container object proxy; do
		if [ -f "$d/run/$s.pid" ] && alive "$(cat "$d/run/$s.pid")"; then
			die "already running in $d (s3-local.sh stop $d first)"
		fi
	done
	ACC= CON= OBJ= PROXY=
	if [ -f "$d/ports" ]; then
		# shellcheck disable=SC1091
		. "$d/ports"
		for p in "$ACC" "$CON" "$OBJ" "$PROXY"; do
			port_free "$p" || { ACC= ; break; }
		done
	fi
	if [ -z "$ACC" ]; then
		ACC=$(free_port); CON=$(free_port); OBJ=$(free_port)
		PROXY=$(free_port)
		[ "$(printf '%s\n' "$ACC" "$CON" "$OBJ" "$PROXY" | sort -u |
		    wc -l)" = 4 ] || { ACC=$(free_port); CON=$(free_port);
		    OBJ=$(free_port); PROXY=$(free_port); }
	fi
	configure "$d"
	start_log_sink "$d"
	for s in account container object proxy; do
		swift-$s-server "$d/etc/$s-server.conf" \
		    >>"$d/run/$s.log" 2>&1 </dev/null &
		echo $! > "$d/run/$s.pid"
	done
	# Up when the proxy answers HTTP at all, then an authenticated S3
	# request (which needs the account and container servers).
	i=0
	while ! curl -s -o /dev/null "http://127.0.0.1:$PROXY/" ||
	    ! s3 "$d" GET / >/dev/null 2>&1; do
		for s in account container object proxy; do
			alive "$(cat "$d/run/$s.pid")" || {
				tail -n 20 "$d/run/$s.log" >&2
				stop "$d"
				die "swift-$s-server exited"
			}
		done
		[ $i -lt 120 ] || { stop "$d"; die "the store did not come up in 60 s"; }
		sleep 0.5; i=$((i + 1))
	done
	s3 "$d" HEAD "/$BUCKET" >/dev/null 2>&1 || s3 "$d" PUT "/$BUCKET" >/dev/null ||
	    { stop "$d"; die "could not create bucket $BUCKET"; }
	cat > "$d/s3.env" <<-EOF
	endpoint=http://127.0.0.1:$PROXY
	region=$REGION
	bucket=$BUCKET
	access_key=$ACCESS_KEY
	secret_key=$SECRET_KEY
	EOF
	cat > "$d/credentials" <<-EOF
	[default]
	aws_access_key_id = $ACCESS_KEY
	aws_secret_access_key = $SECRET_KEY
	EOF
	chmod 600 "$d/credentials"
	print_env "$d"
}

# s3 DIR METHOD PATH -- one signed request with botocore (the S3 API, not
# Swift's own), for the start-up checks; exits non-zero unless 2xx.
s3() {
	. "$1/ports"
	$PY - "http://127.0.0.1:$PROXY" "$2" "$3" "$ACCESS_KEY" "$SECRET_KEY" \
	    "$REGION" <<-'EOF'
	import sys, urllib.request, urllib.error
	from botocore.auth import SigV4Auth
	from botocore.awsrequest import AWSRequest
	from botocore.credentials import Credentials
	ep, method, path, ak, sk, region = sys.argv[1:7]
	req = AWSRequest(method=method, url=ep + path, data=b"")
	req.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
	SigV4Auth(Credentials(ak, sk), "s3", region).add_auth(req)
	r = urllib.request.Request(ep + path, method=method,
	    headers=dict(req.headers.items()), data=b"" if method == "PUT" else None)
	try:
	    urllib.request.urlopen(r, timeout=5)
	except urllib.error.HTTPError as e:
	    print(e.code, e.read()[:300], file=sys.stderr)
	    sys.exit(1)
	EOF
}

stop() {
	local d=$1 s pid i
	[ -d "$d/run" ] || return 0
	for s in proxy object container account sink; do
		[ -f "$d/run/$s.pid" ] || continue
		pid=$(cat "$d/run/$s.pid")
		if alive "$pid"; then
			kill -TERM "$pid" 2>/dev/null || true
			i=0
			while alive "$pid" && [ $i -lt 50 ]; do
				sleep 0.1; i=$((i + 1))
			done
			alive "$pid" && kill -KILL "$pid" 2>/dev/null
		fi
		rm -f "$d/run/$s.pid"
	done
	return 0
}

[ $# -eq 2 ] || die "usage: s3-local.sh start DIR | stop DIR | env DIR"
case $1 in
start) start "$2" ;;
stop) stop "$2" ;;
env) [ -f "$2/s3.env" ] || die "$2: not started"; print_env "$2" ;;
*) die "usage: s3-local.sh start DIR | stop DIR | env DIR" ;;
esac
