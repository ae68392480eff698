#!/bin/sh
# own-cache.sh DIR COMMAND...: runs COMMAND in a private mount namespace with
# DIR bound over /var/lib/containers/cache, the blob info cache that skopeo
# and podman keep when run as root (see own_cache_works in run.sh).
dir=$1
shift
# shellcheck disable=SC2016 # $0 and $@ are the inner shell's
exec unshare --mount --propagation private \
	sh -c 'mount --bind "$0" /var/lib/containers/cache && exec "$@"' "$dir" "$@"
