#!/bin/sh
# pg-local.sh -- a throw-away PostgreSQL server for tests and benchmarks,
# from Debian's `postgresql` package: initdb and pg_ctl in DIR, listening
# on a unix socket in DIR only (no TCP port, nothing outside DIR).
#
#   hosting/pg-local.sh start DIR     create (first time) and start it;
#                                     prints the dsn on stdout
#   hosting/pg-local.sh stop DIR      stop it (fast: sessions are cut)
#   hosting/pg-local.sh restart DIR   stop and start again
#   hosting/pg-local.sh dsn DIR       print the dsn
#
# The dsn is "host=DIR user=berth dbname=berth" (trust authentication on
# the socket).  A second role, berth_pw, must give its password (SCRAM),
# which is in DIR/password: for tests of [metadata.postgresql]
# password_file.  Run as root, the
# server runs as the postgres user (initdb refuses root) and DIR is
# handed to it.  fsync is off: the data is thrown away.
set -eu
cmd=${1:?usage: pg-local.sh start|stop|restart|dsn DIR}
dir=${2:?usage: pg-local.sh start|stop|restart|dsn DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

bin=
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
	bin=$d
done
if [ -z "$bin" ] || [ ! -x "$bin/pg_ctl" ]; then
	echo "pg-local.sh: no PostgreSQL server (apt-get install postgresql)" >&2
	exit 1
fi

# Run a server program as the postgres user when root.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

dsn() {
	echo "host=$dir user=berth dbname=berth"
}

start() {
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		[ "$(id -u)" = 0 ] && chown postgres "$dir"
		chmod 0755 "$dir"
		as_pg "$bin/initdb" -D "$dir/data" -U berth -A trust \
		    --locale=C -E UTF8 --no-sync > "$dir/initdb.log" 2>&1 || {
			cat "$dir/initdb.log" >&2
			exit 1
		}
		head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/password"
		chmod 0600 "$dir/password"
		# berth_pw authenticates with its password; everyone else is
		# trusted (the socket is in DIR, reachable by us only).
		{ echo "local all berth_pw scram-sha-256"; cat "$dir/data/pg_hba.conf"; } \
		    > "$dir/hba.tmp"
		[ "$(id -u)" = 0 ] && chown postgres "$dir/hba.tmp"
		mv "$dir/hba.tmp" "$dir/data/pg_hba.conf"
	fi
	as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
	    -o "-c listen_addresses='' -k $dir -c fsync=off \
	    -c full_page_writes=off -c max_connections=200" start > /dev/null || {
		tail -n 20 "$dir/server.log" >&2
		exit 1
	}
	if [ ! -f "$dir/created" ]; then
		"$bin/psql" -q -h "$dir" -U berth -d postgres \
		    -c "CREATE DATABASE berth" \
		    -c "CREATE ROLE berth_pw LOGIN PASSWORD '$(cat "$dir/password")'" \
		    -c "GRANT CREATE ON DATABASE berth TO berth_pw" > /dev/null
		touch "$dir/created"
	fi
	dsn
}

stop() {
	[ -f "$dir/data/postmaster.pid" ] || return 0
	as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop > /dev/null
}

case $cmd in
start) start ;;
stop) stop ;;
restart) stop; start > /dev/null ;;
dsn) dsn ;;
*) echo "pg-local.sh: unknown command $cmd" >&2; exit 1 ;;
esac
