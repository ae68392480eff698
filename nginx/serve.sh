#!/bin/sh
# serve.sh -- run berth behind nginx on loopback, as `make run`, `make
# start`, `make stop` and the tests do.
#
#   nginx/serve.sh run     foreground; Ctrl-C stops both
#   nginx/serve.sh start   background; returns once GET /v2/ answers 200
#                          (or 401: access control on)
#   nginx/serve.sh stop    stops what `start` started
#   nginx/serve.sh restart a graceful restart of berth's worker pool
#                          (SIGHUP): a new binary and the configuration
#                          are taken up, no request is refused
#
# SERVER=lighttpd, apache or apache-cgi brings up that web server instead
# (hosting/serve.sh); nginx is the default.
#
# Environment: PORT (5000), LISTEN (127.0.0.1), DATA_DIR (./var), BERTH
# (build/berth), BERTH_CONFIG (an INI file; its data_dir and socket win),
# WORKERS.
# Generated configuration, pid files and logs go to <data_dir>/run:
# berth.log (the workers' stderr), nginx-error.log, nginx-access.log.
set -eu

cmd=${1:-}
here=$(cd "$(dirname "$0")" && pwd)
lib=$here/../hosting/serve-lib.sh
PORT=${PORT:-5000}
LISTEN=${LISTEN:-127.0.0.1}	# nginx only; 0.0.0.0 serves other hosts too
case $LISTEN in 0.0.0.0) probe=127.0.0.1 ;; *) probe=$LISTEN ;; esac
DATA_DIR=${DATA_DIR:-./var}
BERTH=${BERTH:-build/berth}
BERTH_CONFIG=${BERTH_CONFIG:-}
WORKERS=${WORKERS:-}

. "$lib"

# berth-locations.conf in $run from its template, for the configuration
# whose `berth -t` output is $1: its socket, body directory and data
# directory, and the fast reads (store/pub.h) -- the lines marked @FAST@
# only with fast_reads=yes (never with [auth] enabled: only a worker
# checks tokens), those marked @FASTBLOB@ only with fast_blob_reads=yes.
locations() {
	case $(printf '%s\n' "$1" | sed -n 's/^fast_reads=//p') in
	yes) fast='s|@FAST@||' ;;
	*) fast='/@FAST@/d' ;;
	esac
	case $(printf '%s\n' "$1" | sed -n 's/^fast_blob_reads=//p') in
	yes) fastblob='s|@FASTBLOB@||' ;;
	*) fastblob='/@FASTBLOB@/d' ;;
	esac
	sed -e "s|@DATA_DIR@|$(printf '%s\n' "$1" | sed -n 's/^data_dir=//p')|g" \
	    -e "s|@SOCKET@|$(printf '%s\n' "$1" | sed -n 's/^socket=//p')|g" \
	    -e "s|@BODY_DIR@|$(printf '%s\n' "$1" | sed -n 's/^body_dir=//p')|g" \
	    -e "$fast" -e "$fastblob" \
	    "$here/berth-locations.conf.in" > "$run/berth-locations.conf"
}

# After the pool took up its configuration again (restart_command): the
# locations follow what the pool now runs with -- its own arguments, in
# its own directory (a relative -d), whatever this restart's environment
# says -- so that [auth] enabled turned on takes the fast reads away at
# once; nginx checks and reloads them (SIGHUP, graceful).
after_restart() {
	bin=$(realpath "$BERTH")
	out=$(cd "/proc/$pid/cwd" && tr '\0' '\n' < "/proc/$pid/cmdline" |
	    tail -n +2 | xargs -d '\n' "$bin" -t) ||
		die "berth -t refused the running pool's configuration; nginx keeps its locations"
	cp "$run/berth-locations.conf" "$run/berth-locations.conf.old"
	locations "$out"
	NGINX=$(command -v nginx || echo /usr/sbin/nginx)
	if ! "$NGINX" -t -q -p "$run" -c "$run/berth-local.conf" -e "$run/nginx-error.log" 2>&1; then
		mv "$run/berth-locations.conf.old" "$run/berth-locations.conf"
		die "nginx refused the regenerated locations (above); it keeps the previous ones"
	fi
	rm -f "$run/berth-locations.conf.old"
	if [ -f "$run/nginx.pid" ] && is_ours "$(cat "$run/nginx.pid")" nginx; then
		kill -HUP "$(cat "$run/nginx.pid")"
	fi
}

# SERVER=lighttpd|apache|apache-cgi: hosting/serve.sh, same contract.  It
# also does every stop, whichever server a start brought up.
case ${SERVER:-nginx}:$cmd in
nginx:run|nginx:start) ;;
nginx:restart) [ -x "$BERTH" ] || die "$BERTH is not built (make)"; restart_command ;;
*) exec "$here/../hosting/serve.sh" "$@" ;;
esac

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || die "nginx is not installed (apt-get install nginx)"

[ -x "$BERTH" ] || die "$BERTH is not built (make)"
data=$(effective data_dir) || exit 1
sock=$(effective socket)
body=$(effective body_dir)	# nginx writes upload bodies there
# Idle connections each nginx worker process keeps to the pool
# (berth-local.conf.in): four per berth worker.
keepalive=$(( $(effective workers) * 4 ))
run=$data/run
mkdir -p "$run"
stop_previous "$run"

# nginx's workers must read blob files and reach the socket.  As root
# they run as root here (a local test server); otherwise as ourselves.
if [ "$(id -u)" = 0 ]; then user_line="user root;"; else user_line=""; fi
if [ "$cmd" = run ]; then daemon=off; else daemon=on; fi
sed -e "s|@PORT@|$PORT|g" -e "s|@SOCKET@|$sock|g" -e "s|@RUN_DIR@|$run|g" \
    -e "s|@KEEPALIVE@|$keepalive|g" -e "s|@CONF_DIR@|$run|g" \
    -e "s|@USER_LINE@|$user_line|g" -e "s|@DAEMON@|$daemon|g" \
    -e "s|@LISTEN@|$LISTEN|g" \
    "$here/berth-local.conf.in" > "$run/berth-local.conf"
# shellcheck disable=SC2046
locations "$("$BERTH" -t $(berth_args))"

# shellcheck disable=SC2046
start_pool $(berth_args)

if [ "$cmd" = start ]; then
	"$NGINX" -p "$run" -c "$run/berth-local.conf" -e "$run/nginx-error.log" ||
		{ stop "$run"; die "nginx did not start; see $run/nginx-error.log"; }
	wait_ready "$probe" "$run/nginx-error.log"
	echo "berth: serving http://$LISTEN:$PORT (data in $data)"
	exit 0
fi

trap 'stop "$run"; exit 0' INT TERM HUP
"$NGINX" -p "$run" -c "$run/berth-local.conf" -e "$run/nginx-error.log" &
web=$!
echo $web > "$run/nginx.pid"
wait_ready "$probe" "$run/nginx-error.log"
echo "berth: serving http://$LISTEN:$PORT (data in $data); Ctrl-C stops"
run_foreground $web
