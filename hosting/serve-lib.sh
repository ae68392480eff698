# serve-lib.sh -- what nginx/serve.sh and hosting/serve.sh share: berth's
# own reading of the configuration, and stopping what a start left
# running.  Sourced; expects BERTH, DATA_DIR, BERTH_CONFIG and WORKERS.

die() { echo "serve.sh: $*" >&2; exit 1; }

berth_args() {
	set -- -d "$DATA_DIR"
	[ -n "$BERTH_CONFIG" ] && set -- "$@" -c "$(config_path)"
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
	{ tr '\0' ' ' < "/proc/$1/cmdline"; } 2>/dev/null | grep -q "$2"
}

# Send pid $1 signal $2 and wait up to $3 tenths of a second for it to
# go; false if it is still there.
stop_pid() {
	kill -"$2" "$1" 2>/dev/null || true
	i=0
	while alive "$1"; do
		[ $i -lt "$3" ] || return 1
		sleep 0.1; i=$((i + 1))
	done
}

# Stop whatever a start left running in run directory $1, whichever the
# web server, and remove the pid files.  Sets stopped=1 when something
# was running, and stopped_list to what it was ("nginx (pid 12), berth's
# worker pool (pid 34)").  The web server first, gracefully (nginx SIGQUIT, lighttpd
# SIGINT, Apache SIGWINCH: the requests in flight, uploads too, are
# answered) for up to 10 s, then at once (SIGTERM); then berth, which
# answers what it still has (at most 30 s, BERTH_DRAIN_SECONDS).
stop() {
	stopped=0
	stopped_list=
	for f in nginx lighttpd apache berth; do
		[ -f "$1/$f.pid" ] || continue
		pid=$(cat "$1/$f.pid" 2>/dev/null) || pid=	# nginx may just have removed it
		prog=$f
		[ "$f" = apache ] && prog=apache2
		if [ -n "$pid" ] && is_ours "$pid" "$prog"; then
			stopped=1
			what=$prog
			[ "$f" = berth ] && what="berth's worker pool"
			stopped_list="${stopped_list:+$stopped_list, }$what (pid $pid)"
			case $f in
			nginx) sig=QUIT ;;
			lighttpd) sig=INT ;;
			apache) sig=WINCH ;;
			esac
			if [ "$f" = berth ]; then
				stop_pid "$pid" TERM 350 || true
			else
				stop_pid "$pid" $sig 100 || stop_pid "$pid" TERM 50 || true
			fi
		fi
		rm -f "$1/$f.pid"	# nginx removes its own as it exits
	done
}

# Start berth's worker pool with arguments "$@", its output in
# $run/berth.log and its pid in $run/berth.pid, and wait until it listens
# on $sock.
start_pool() {
	logged=0
	[ -f "$run/berth.log" ] && logged=$(wc -l < "$run/berth.log")
	"$BERTH" "$@" >>"$run/berth.log" 2>&1 < /dev/null &
	echo $! > "$run/berth.pid"
	i=0
	while [ ! -S "$sock" ]; do
		if ! kill -0 "$(cat "$run/berth.pid")" 2>/dev/null; then
			# Why, as berth said it this time (the last lines).
			tail -n +$((logged + 1)) "$run/berth.log" | tail -n 5 >&2
			die "berth did not start; see $run/berth.log"
		fi
		[ $i -lt 100 ] || die "berth did not open $sock"
		sleep 0.05; i=$((i + 1))
	done
}

# Wait up to 10 s for GET /v2/ on $1:$PORT to answer 200 (or 401: access
# control on, [auth] enabled); else stop what runs from $run and fail,
# naming log $2.
wait_ready() {
	i=0
	until case $(curl -sS -o /dev/null -w "%{http_code}" \
	    "http://$1:$PORT/v2/" 2>/dev/null) in 200|401) true ;; *) false ;; esac; do
		if [ $i -ge 100 ]; then
			stop "$run"
			die "no answer on port $PORT; see $2"
		fi
		sleep 0.1; i=$((i + 1))
	done
}

# Before a start: stop what an earlier start left running there, and
# say so.
stop_previous() {
	before=$(running_config "$1")
	stop "$1"
	[ "$stopped" = 0 ] && return
	echo "serve.sh: stopped the registry already running from $(dirname "$1")" >&2
	now=$(config_path)
	[ "$before" = "$now" ] && return
	echo "serve.sh: note: it ran with ${before:-no configuration file}, this one with" \
	    "${now:-none (BERTH_CONFIG unset)}: settings such as [auth] follow the new one" >&2
}

# The configuration file the worker pool running from run directory $1
# was started with (its -c argument, as it runs), or nothing.
running_config() {
	[ -f "$1/berth.pid" ] || return 0
	pid=$(cat "$1/berth.pid" 2>/dev/null) || return 0
	[ -n "$pid" ] && is_ours "$pid" berth || return 0
	tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null | sed -n '/^-c$/{n;p;q}'
}

# BERTH_CONFIG as an absolute path (what berth_args passes), or nothing.
config_path() {
	[ -n "$BERTH_CONFIG" ] || return 0
	realpath -m "$BERTH_CONFIG"
}

# Is pid $1 a live process (a zombie, dead but not yet waited for, is
# not)?  Builtins only: a Ctrl-C must not make a live process look dead.
alive() {
	stat=
	{ read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 1
	state=${stat##*) }
	state=${state%% *}
	[ -n "$state" ] && [ "$state" != Z ]
}

# How a process that `wait` reported as status $1 ended.
exit_cause() {
	if [ "$1" -gt 128 ]; then
		echo "was killed by signal $(kill -l $(($1 - 128)) 2>/dev/null || echo $(($1 - 128)))"
	else
		echo "exited with status $1"
	fi
}

# After `run` printed its banner: watch the web server (pid $1) and the
# worker pool (the pid in $run/berth.pid, if this shape has one; a
# restart keeps it); when either ends, say which and how, stop the other
# and leave no process or pid file behind.  A pool that dies (by a signal
# or with a non-zero status) ends the run with status 1; one stopped
# (SIGTERM, or Ctrl-C: it drained and exited 0) with status 0.
run_foreground() {
	pool=
	[ -f "$run/berth.pid" ] && pool=$(cat "$run/berth.pid")
	while alive "$1" && { [ -z "$pool" ] || alive "$pool"; }; do
		sleep 0.2
	done
	if [ -n "$pool" ] && ! alive "$pool"; then
		rc=0
		wait "$pool" || rc=$?
		if [ "$rc" = 0 ]; then
			# Ctrl-C, or a SIGTERM: it drained and stopped.
			echo "serve.sh: berth's worker pool (pid $pool) stopped: stopping the web server" >&2
			stop "$run"
			exit 0
		fi
		echo "serve.sh: berth's worker pool (pid $pool) $(exit_cause $rc): stopping the web server; see $run/berth.log" >&2
		stop "$run"
		exit 1
	fi
	wait "$1" || true
	echo "serve.sh: the web server has exited (Ctrl-C, or it died): stopping berth" >&2
	stop "$run"
	exit 0
}

# `serve.sh restart`: a graceful restart of the worker pool that `start`
# or `run` started: SIGHUP makes it execute $BERTH's binary again (a new
# build, if there is one) with its arguments, re-reading the
# configuration, on the same socket and pid; the old workers finish their
# requests.  Waits for the pool to say it restarted (or refused: a
# configuration or binary `berth -t` rejects leaves the old pool serving).
restart_command() {
	data=$(effective data_dir) || exit 1
	run=$data/run
	pid=
	[ -f "$run/berth.pid" ] && pid=$(cat "$run/berth.pid")
	{ [ -n "$pid" ] && is_ours "$pid" berth; } ||
		die "no worker pool is running from $data (make start)"
	before=$(running_config "$run") now=$(config_path)
	[ "$before" = "$now" ] ||
		echo "serve.sh: note: a restart keeps the configuration the pool started with" \
		    "(${before:-no configuration file}); to run with ${now:-no configuration file}," \
		    "make stop, then make start" >&2
	seen=$(wc -l < "$run/berth.log")
	kill -HUP "$pid"
	i=0
	while [ $i -lt 200 ]; do
		said=$(tail -n +$((seen + 1)) "$run/berth.log" |
		    grep -E '^berth: (restarted|restart refused|restart failed)' | head -n 1)
		case $said in
		"berth: restarted"*)
			echo "serve.sh: ${said#berth: }"
			# The web server's own part, if its script has one
			# (nginx/serve.sh: the locations follow the configuration).
			if command -v after_restart >/dev/null 2>&1; then
				after_restart
			fi
			exit 0 ;;
		?*) die "${said#berth: } (see $run/berth.log)" ;;
		esac
		alive "$pid" || die "the worker pool died restarting; see $run/berth.log"
		sleep 0.05; i=$((i + 1))
	done
	die "the worker pool did not restart within 10 s; see $run/berth.log"
}

# `serve.sh stop`: stop what `start` started for this configuration.
stop_command() {
	data=$DATA_DIR
	if [ -x "$BERTH" ]; then
		data=$(effective data_dir) || exit 1
	fi
	stopped=0
	[ -d "$data/run" ] && stop "$data/run"
	if [ "$stopped" = 1 ]; then
		echo "serve.sh: stopped $stopped_list (data in $data)"
	else
		echo "serve.sh: nothing was running from $data" >&2
	fi
	exit 0
}
