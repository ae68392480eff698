#!/bin/sh
# serve.sh -- run berth behind lighttpd or Apache on loopback, with the
# same contract as nginx/serve.sh (which hands over to this script when
# SERVER is not nginx):
#
#   SERVER=lighttpd    lighttpd + berth's FastCGI workers, X-Sendfile
#   SERVER=apache      Apache 2.4 + mod_proxy_fcgi + mod_xsendfile + workers
#   SERVER=apache-cgi  Apache 2.4, berth.cgi + berth.ini + .htaccess in a
#                      web root: the shared-hosting shape, no berth daemon
#
#   hosting/serve.sh run|start|stop|restart
#
# restart: berth's worker pool takes up a new binary and configuration
# without refusing a request (SIGHUP; berth.ini is written again from
# BERTH_CONFIG first); for apache-cgi the new binary and berth.ini are
# copied into the web root, where the next request runs them.
#
# Environment: PORT (5000), DATA_DIR (./var), BERTH (build/berth),
# BERTH_CONFIG (an INI file; its data_dir and socket win), WORKERS.
# Generated configuration, the web root, pid files and logs go to
# <data_dir>/run: berth.log (the workers' stderr; for apache-cgi Apache's
# error log, which has the CGI's stderr), <server>-error.log,
# <server>-access.log.
#
# berth runs with [storage] offload = x-sendfile (stream for apache-cgi:
# shared hosts seldom have mod_xsendfile) unless BERTH_CONFIG sets
# offload itself.  Run as root, Apache serves as www-data: it must
# traverse the data directory's parents, and for apache-cgi the data
# directory is handed to www-data, as it belongs to the web server's user
# on a shared host.
set -eu

cmd=${1:-}
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
lib=$here/serve-lib.sh
SERVER=${SERVER:-lighttpd}
PORT=${PORT:-5000}
DATA_DIR=${DATA_DIR:-./var}
BERTH=${BERTH:-build/berth}
BERTH_CONFIG=${BERTH_CONFIG:-}
WORKERS=${WORKERS:-}

. "$lib"

case $cmd in
stop) stop_command ;;
run|start|restart) ;;
*) die "usage: serve.sh run|start|stop|restart" ;;
esac

case $SERVER in
lighttpd)
	WEB=$(command -v lighttpd || echo /usr/sbin/lighttpd)
	[ -x "$WEB" ] || die "lighttpd is not installed (apt-get install lighttpd)"
	dir=$top/lighttpd offload=x-sendfile pidname=lighttpd errlog=lighttpd-error.log
	conf=berth-local.conf confs="berth-local.conf berth-fastcgi.conf"
	;;
apache|apache-cgi)
	WEB=$(command -v apache2 || echo /usr/sbin/apache2)
	[ -x "$WEB" ] || die "Apache is not installed (apt-get install apache2 libapache2-mod-xsendfile)"
	dir=$top/apache pidname=apache errlog=apache-error.log
	if [ "$SERVER" = apache ]; then
		[ -f /usr/lib/apache2/modules/mod_xsendfile.so ] ||
			die "mod_xsendfile is not installed (apt-get install libapache2-mod-xsendfile)"
		offload=x-sendfile conf=berth-local.conf
		confs="berth-local.conf berth-fastcgi.conf"
	else
		offload=stream conf=berth-cgi-local.conf confs=$conf
		errlog=berth.log
	fi
	;;
*) die "SERVER must be nginx, lighttpd, apache or apache-cgi, not '$SERVER'" ;;
esac

[ -x "$BERTH" ] || die "$BERTH is not built (make)"
data=$(effective data_dir) || exit 1
sock=$(effective socket)
# The web servers resolve a relative socket against their own directory.
case $sock in
/*) ;;
*) sock=$(pwd)/${sock#./} ;;
esac
run=$data/run
mkdir -p "$run/www"
[ "$cmd" = restart ] || stop_previous "$run"

# berth's configuration: the given one, with the offload this server
# needs unless it names one; data_dir made absolute for the CGI, which
# runs in the web root.
ini=$run/berth.ini
{
	if [ -n "$BERTH_CONFIG" ]; then
		cat "$BERTH_CONFIG"
		echo
	fi
	echo "[storage]"
	echo "data_dir = $data"
	if [ -z "$BERTH_CONFIG" ] || ! grep -q '^[[:space:]]*offload[[:space:]]*=' "$BERTH_CONFIG"; then
		echo "[blob.fs]"
		echo "offload = $offload"
	fi
} > "$ini"

user_line=
if [ "$(id -u)" = 0 ]; then
	case $SERVER in
	apache*)
		# Apache will not serve as root; its children run as www-data.
		user_line="User www-data
Group www-data"
		if [ "$SERVER" = apache-cgi ]; then
			chown -R www-data:www-data "$data"
		fi
		su -s /bin/sh www-data -c "test -x '$data'" ||
			die "www-data cannot reach $data: make it and its parents traversable (chmod o+x), or use another DATA_DIR"
		;;
	esac
fi

# What a user uploads to a shared host: the binary, the .htaccess and the
# configuration beside them (berth finds berth.ini by itself).
install_cgi() {
	cp "$BERTH" "$run/www/berth.cgi.new" && mv "$run/www/berth.cgi.new" "$run/www/berth.cgi"
	chmod 755 "$run/www/berth.cgi"
	cp "$top/apache/htaccess" "$run/www/.htaccess"
	cp "$ini" "$run/www/berth.ini"
	# A sanitizer build reports to stderr, Apache's error log; pass its
	# options through (Apache gives a CGI a clean environment).
	for v in ASAN_OPTIONS UBSAN_OPTIONS; do
		eval "val=\${$v:-}"
		[ -n "$val" ] && echo "SetEnv $v $val" >> "$run/www/.htaccess"
	done
	[ "$(id -u)" = 0 ] && chown -R www-data:www-data "$run/www"
	return 0
}

if [ "$cmd" = restart ]; then
	if [ "$SERVER" = apache-cgi ]; then
		install_cgi
		echo "serve.sh: the next request runs the new berth.cgi and berth.ini"
		exit 0
	fi
	restart_command
fi

for f in $confs; do
	sed -e "s|@PORT@|$PORT|g" -e "s|@DATA_DIR@|$data|g" \
	    -e "s|@SOCKET@|$sock|g" -e "s|@RUN_DIR@|$run|g" \
	    -e "s|@CONF_DIR@|$run|g" "$dir/$f.in" |
	awk -v u="$user_line" '{ if ($0 == "@USER_LINE@") print u; else print }' \
	    > "$run/$f"
done

if [ "$SERVER" = apache-cgi ]; then
	install_cgi
else
	# shellcheck disable=SC2046
	start_pool -c "$ini" $( [ -n "$WORKERS" ] && echo -w "$WORKERS")
fi

if [ "$cmd" = start ]; then
	case $SERVER in
	lighttpd) "$WEB" -f "$run/$conf" ;;
	*) "$WEB" -f "$run/$conf" -k start ;;
	esac || { stop "$run"; die "$SERVER did not start; see $run/$errlog"; }
	wait_ready 127.0.0.1 "$run/$errlog"
	echo "berth: serving http://127.0.0.1:$PORT through $SERVER (data in $data)"
	exit 0
fi

trap 'stop "$run"; exit 0' INT TERM HUP
case $SERVER in
lighttpd) "$WEB" -D -f "$run/$conf" & ;;
*) "$WEB" -f "$run/$conf" -DFOREGROUND & ;;
esac
web=$!
echo $web > "$run/$pidname.pid"
wait_ready 127.0.0.1 "$run/$errlog"
echo "berth: serving http://127.0.0.1:$PORT through $SERVER (data in $data); Ctrl-C stops"
run_foreground $web
