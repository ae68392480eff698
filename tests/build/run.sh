#!/bin/sh
# tests/build/run.sh -- the Makefile's promises about building and
# installing (issue 10, item 8):
#   - `make` compiles with the build packages only: it runs no package
#     check (need-packages.sh, dpkg, apt-get) and no web server, while
#     `make run`, `start` and `test` still check what they need;
#   - `make install DESTDIR=... PREFIX=/usr` lays out the binary, the
#     example configurations, the SQL files and the systemd units (with
#     their sysusers.d and tmpfiles.d files), byte for byte, and nothing
#     else; PREFIX defaults to /usr/local;
#   - the installed units pass `systemd-analyze verify` with nothing to
#     say (a unit with a typo does not) and `systemd-analyze security
#     --offline` rates berth.service's exposure at most 2.0;
#   - the installed binary accepts the installed example configurations
#     (`berth -t`, data_dir pointed at a scratch directory), with either
#     blob handler, and still refuses an unknown key;
#   - `make uninstall` removes all of it.
# Env: BERTH, the binary to install (default build/berth; it is not
# rebuilt: make install runs with -o BERTH).  Prints "N passed, N failed"
# last; exits non-zero on any failure.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
BERTH=${BERTH:-$top/build/berth}
case $BERTH in /*) ;; *) BERTH=$(pwd)/$BERTH ;; esac
build=$(dirname "$BERTH")
# Under `make test` the outer make's flags would reach ours (-n, -s,
# command-line variables such as PREFIX=): start from none.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
. "$top/tests/lib/check.sh"
work=$(mktemp -d /tmp/berth-build-XXXXXX)

finish() {
	rm -rf "$work"
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}
trap 'finish; exit $?' EXIT

# Stand-ins that record being called: make must reach none of them when
# it only compiles.
mkdir -p "$work/bin"
for c in dpkg dpkg-query apt-get apt sudo nginx lighttpd apache2 apache2ctl; do
	printf '#!/bin/sh\necho "%s $*" >> "%s/called"\nexit 1\n' "$c" "$work" \
	    > "$work/bin/$c"
	chmod 755 "$work/bin/$c"
done
fakepath=$work/bin:$PATH

# 1. make (all) with a build directory of its own, dry run: it would
# compile and link, and would run nothing that checks or installs
# packages.  -n still runs the $(shell ...) of the Makefile's parsing,
# which the stand-ins catch.
cd "$top" || exit 1
PATH=$fakepath make -n BUILD="$work/b" all > "$work/all.out" 2>&1
check "make -n all exits 0" 0 $?
check "make all would link berth" 1 \
    "$(grep -c -- "-o $work/b/berth " "$work/all.out")"
check "make all would compile main/main.c" 1 \
    "$(grep -c -- "-c -o $work/b/main/main.o main/main.c" "$work/all.out")"
check "make all runs no package check" 0 \
    "$(grep -c -E 'need-packages|dpkg|apt-get' "$work/all.out")"
check "make all calls no package tool or web server" "" \
    "$(cat "$work/called" 2>/dev/null)"
for t in run start test; do
	PATH=$fakepath make -n BUILD="$work/b" $t > "$work/$t.out" 2>&1
	check "make $t still checks its packages" yes \
	    "$(grep -q 'need-packages.sh' "$work/$t.out" && echo yes)"
done
rm -f "$work/called"

# 2. make install into a staging tree, with the binary already built.
dest=$work/dest
inst() {	# inst TARGET MAKE-ARGS...: make TARGET, output in $work/make.out
	t=$1
	shift
	make -s -o "$BERTH" BUILD="$build" "$@" "$t" > "$work/make.out" 2>&1
}
inst install DESTDIR="$dest" PREFIX=/usr
rc=$?
check "make install DESTDIR PREFIX=/usr exits 0" 0 $rc
[ $rc -eq 0 ] || sed 's/^/# /' "$work/make.out"

ex=usr/share/doc/berth/examples
want=$(printf '%s\n' usr/bin/berth usr/share/berth/sql/001_init.sql \
    usr/share/berth/sql/002_operator.sql usr/share/berth/sql/003_auth.sql usr/share/berth/sql/004_notify.sql \
    usr/share/berth/sql/postgresql/001_init.sql usr/share/berth/sql/postgresql/002_operator.sql \
    usr/share/berth/sql/postgresql/003_auth.sql usr/share/berth/sql/postgresql/004_notify.sql \
    usr/share/doc/berth/README.md \
    $ex/berth.ini $ex/nginx/berth.conf $ex/lighttpd/berth.conf \
    $ex/apache/berth.conf $ex/apache/htaccess $ex/apache/berth.ini \
    usr/lib/systemd/system/berth.service usr/lib/systemd/system/berth.socket \
    usr/lib/sysusers.d/berth.conf usr/lib/tmpfiles.d/berth.conf | sort)
got=$(cd "$dest" 2>/dev/null && find . -type f | sed 's|^\./||' | sort)
check "the installed files, and nothing else" "$want" "$got"
check "the binary is mode 755" 755 "$(stat -c %a "$dest/usr/bin/berth" 2>/dev/null)"
check "the examples are mode 644" 644 "$(stat -c %a "$dest/$ex/berth.ini" 2>/dev/null)"
same() {	# same SOURCE INSTALLED
	if cmp -s "$top/$1" "$dest/$2"; then ok "$2 is $1"; else not_ok "$2" "differs from $1"; fi
}
same etc/berth.ini $ex/berth.ini
for f in nginx/berth.conf lighttpd/berth.conf apache/berth.conf \
    apache/htaccess apache/berth.ini; do
	same "$f" "$ex/$f"
done
same sql/001_init.sql usr/share/berth/sql/001_init.sql
same systemd/berth.sysusers usr/lib/sysusers.d/berth.conf
same systemd/berth.tmpfiles usr/lib/tmpfiles.d/berth.conf
# The units are their templates with the installed paths filled in.
for u in berth.service berth.socket; do
	sed -e 's|@BINDIR@|/usr/bin|g' -e 's|@DOCDIR@|/usr/share/doc/berth|g' \
	    "$top/systemd/$u.in" > "$work/$u.want"
	if cmp -s "$work/$u.want" "$dest/usr/lib/systemd/system/$u"; then
		ok "usr/lib/systemd/system/$u is systemd/$u.in with the paths"
	else not_ok "usr/lib/systemd/system/$u" "differs from systemd/$u.in filled in"; fi
done
check "berth.service runs the installed binary on /etc/berth/berth.ini" \
    "ExecStart=/usr/bin/berth -c /etc/berth/berth.ini" \
    "$(grep '^ExecStart=' "$dest/usr/lib/systemd/system/berth.service")"
for kv in Type=notify User=berth Restart=on-failure KillMode=mixed \
    'ExecReload=/bin/kill -HUP $MAINPID' NoNewPrivileges=yes \
    ProtectSystem=strict ReadWritePaths=/srv/berth PrivateTmp=yes ProtectHome=yes; do
	check "berth.service sets $kv" 1 \
	    "$(grep -c -x -F "$kv" "$dest/usr/lib/systemd/system/berth.service")"
done

# systemd-analyze verify works without a running systemd (checked: Debian
# 12, systemd 252) but wants the ExecStart binary at its path: verify
# copies whose paths point into the staging tree.  It exits 0 even on
# unknown keys, printing them: silence is the pass.
if command -v systemd-analyze > /dev/null; then
	mkdir -p "$work/units"
	for u in berth.service berth.socket; do
		sed "s|/usr/bin/berth|$dest/usr/bin/berth|" \
		    "$dest/usr/lib/systemd/system/$u" > "$work/units/$u"
	done
	out=$(cd "$work/units" && systemd-analyze verify berth.socket berth.service 2>&1)
	rc=$?
	check "systemd-analyze verify berth.service berth.socket: clean" "0 []" "$rc [$out]"
	sed 's|^Type=notify$|Type=notfy|' "$work/units/berth.service" > "$work/units/typo.service"
	out=$(cd "$work/units" && systemd-analyze verify typo.service 2>&1)
	case $out in *"Failed to parse service type"*) ok "verify catches a typo in a unit" ;;
	*) not_ok "verify catches a typo" "[$out]" ;; esac
	out=$(cd "$work/units" && systemd-analyze security --offline=yes --threshold=20 \
	    ./berth.service 2>&1)
	check "systemd-analyze security: exposure at most 2.0" 0 $?
	printf '%s\n' "$out" | grep 'Overall exposure' | sed 's/^/# /'
else
	not_ok "systemd-analyze" "not installed (Debian: systemd)"
fi
if cmp -s "$BERTH" "$dest/usr/bin/berth"; then ok "usr/bin/berth is BERTH"
else not_ok "usr/bin/berth" "differs from $BERTH"; fi

# Every key of the example is one berth reads: -t refuses unknown keys,
# and the sections of the handler not chosen are skipped, so check with
# each handler.
keys=$(grep -E '^[a-z_]+ = ' "$dest/$ex/berth.ini" | cut -d' ' -f1 | sort | tr '\n' ' ')
check "the example sets every key" \
    "accel_prefix access_log backend blob_handler connect_timeout data_dir delete_enabled dsn enabled health_path lock_timeout metrics_path offload password_file path read_only refresh_lifetime schema service socket statement_timeout token_lifetime token_path trust_remote_user upload_expiry url workers " \
    "$keys"
sed "s|^data_dir = .*|data_dir = $work/data|" "$dest/$ex/berth.ini" > "$work/fs.ini"
mkdir -p "$work/data"	# -t opens the store of an existing data directory only
out=$("$dest/usr/bin/berth" -t -c "$work/fs.ini" 2>&1)
check "installed berth -t with the installed berth.ini" \
    "data_dir=$work/data
socket=/run/berth/berth.sock
workers=8
body_dir=$work/data/uploads/body
fast_reads=no
fast_blob_reads=no" "$out"
[ -f "$work/data/berth.db" ] && ok "-t opened the store in data_dir" ||
    not_ok "-t opened the store" "no $work/data/berth.db"
sed 's|^blob_handler = fs$|blob_handler = redirect|' "$work/fs.ini" > "$work/rd.ini"
"$dest/usr/bin/berth" -t -c "$work/rd.ini" > "$work/rd.out" 2>&1
check "the example with blob_handler = redirect passes -t" 0 $?
printf 'bogus = 1\n' >> "$work/rd.ini"
out=$("$dest/usr/bin/berth" -t -c "$work/rd.ini" 2>&1)
check "an unknown key in it still fails -t" \
    "berth: $work/rd.ini:$(wc -l < "$work/rd.ini"): [blob.redirect] bogus: unknown key" "$out"
sed "s|^data_dir = .*|data_dir = $work/cgi-data|" "$dest/$ex/apache/berth.ini" > "$work/cgi.ini"
"$dest/usr/bin/berth" -t -c "$work/cgi.ini" > "$work/cgi.out" 2>&1
check "the shared-host example berth.ini passes -t" 0 $?

# 3. PREFIX defaults to /usr/local.
inst install DESTDIR="$work/dflt"
check "make install without PREFIX exits 0" 0 $?
[ -x "$work/dflt/usr/local/bin/berth" ] && [ -f "$work/dflt/usr/local/share/doc/berth/examples/berth.ini" ] &&
    [ -f "$work/dflt/usr/local/share/berth/sql/001_init.sql" ] &&
    ok "PREFIX defaults to /usr/local" ||
    not_ok "PREFIX default" "$(cd "$work/dflt" && find . -type f | head -n 3)"

# 4. make uninstall takes it all away again, directories of berth's own
# included, and leaves the shared ones.
inst uninstall DESTDIR="$dest" PREFIX=/usr
check "make uninstall exits 0" 0 $?
check "no file left after uninstall" "" "$(find "$dest" -type f)"
check "berth's directories removed" "" \
    "$(find "$dest" -path "$dest/*berth*")"
[ -d "$dest/usr/bin" ] && ok "usr/bin is left" || not_ok "usr/bin" "removed"
