# serve-lib.sh -- what nginx/serve.sh and hosting/serve.sh share: berth's
# own reading of the configuration, and stopping what a start left
# running.  Sourced; expects BERTH, DATA_DIR, BERTH_CONFIG and WORKERS.

die() { echo "serve.sh: $*" >&2; exit 1; }

berth_args() {
	set -- -d "$DATA_DIR"
	[ -n "$BERTH_CONFIG" ] && set -- "$@" -c "$BERTH_CONFIG"
	[ -n "$WORKERS" ] && set -- "$@" -w "$WORKERS"
	echo "$@"
}

# The effective value of $1 (data_dir, socket), as berth itself reads the
# configuration.  A configuration berth refuses stops everything here:
# nothing is written or signalled anywhere else.
effective() {
	# shellcheck disable=SC2046
	out=$("$BERTH" -t $(berth_args)) || die "bad configuration (see above)"
	out=$(printf '%s\n' "$out" | sed -n "s/^$1=//p")
	[ -n "$out" ] || die "berth -t printed no $1"
	printf '%s\n' "$out"
}

# Is pid $1 a live process of program $2?  (A pid file may be stale, and
# its number reused by an unrelated process.)
is_ours() {
	[ -r "/proc/$1/cmdline" ] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -q "$2"
}

# Stop whatever a start left running in run directory $1, whichever the
# web server, and remove the pid files.  Sets stopped=1 when something
# was running.
stop() {
	stopped=0
	for f in nginx lighttpd apache berth; do
		[ -f "$1/$f.pid" ] || continue
		pid=$(cat "$1/$f.pid")
		prog=$f
		[ "$f" = apache ] && prog=apache2
		if is_ours "$pid" "$prog"; then
			stopped=1
			kill "$pid" 2>/dev/null || true
			i=0	# nginx removes its pid file itself as it exits
			while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
				sleep 0.1; i=$((i + 1))
			done
		fi
		rm -f "$1/$f.pid"
	done
}

# Start berth's worker pool with arguments "$@", its output in
# $run/berth.log and its pid in $run/berth.pid, and wait until it listens
# on $sock.
start_pool() {
	"$BERTH" "$@" >>"$run/berth.log" 2>&1 < /dev/null &
	echo $! > "$run/berth.pid"
	i=0
	while [ ! -S "$sock" ]; do
		kill -0 "$(cat "$run/berth.pid")" 2>/dev/null ||
			die "berth did not start; see $run/berth.log"
		[ $i -lt 100 ] || die "berth did not open $sock"
		sleep 0.05; i=$((i + 1))
	done
}

# Before a start: stop what an earlier start left running there, and
# say so.
stop_previous() {
	stop "$1"
	[ "$stopped" = 0 ] ||
		echo "serve.sh: stopped the registry already running from $(dirname "$1")" >&2
}

# After `run` printed its banner: wait for the web server (pid $1), not
# for the worker pool, so that a web server that dies ends the run too;
# then leave no process or pid file behind.
run_foreground() {
	wait "$1" || true
	echo "serve.sh: the web server has exited (Ctrl-C, or it died): stopping berth" >&2
	stop "$run"
	exit 0
}

# `serve.sh stop`: stop what `start` started for this configuration.
stop_command() {
	data=$DATA_DIR
	if [ -x "$BERTH" ]; then
		data=$(effective data_dir) || exit 1
	fi
	stopped=0
	[ -d "$data/run" ] && stop "$data/run"
	[ "$stopped" = 1 ] || echo "serve.sh: nothing was running from $data" >&2
	exit 0
}
