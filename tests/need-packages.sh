#!/bin/sh
# need-packages.sh PKG... -- make sure these Debian packages are installed.
# As root, installs the missing ones (apt-get update first); otherwise prints
# the one apt-get line to run and fails.
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q && apt-get install -y -q $missing
else
	echo "missing Debian packages; run:"
	echo "  sudo apt-get install -y$missing"
	exit 1
fi
