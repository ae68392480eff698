#!/bin/bash
# berth with real clients: real images, pushed and pulled by skopeo and podman
# through nginx and the berth workers, must come back byte for byte.
#
# What it proves:
#   1. skopeo pushes a three-layer image built from this machine's files (one
#      layer over 20 MB) and copies it back out: the manifest, config and
#      layer digests are unchanged, and the registry returns the manifest's
#      exact bytes;
#   2. the same for a two-platform image index (linux/amd64 and linux/arm64,
#      sharing layers) with `skopeo copy --all`;
#   3. podman (vfs storage, private root) pushes the image and pulls it back
#      with the same image ID and layer diff ids;
#   4. two skopeo processes pushing at once two images that share layers both
#      succeed, every blob is stored exactly once, and both pull back intact;
#   5. docker (Debian's docker.io, a dockerd of the test's own: vfs storage,
#      no iptables, no bridge, its own root and socket) loads a small
#      three-layer image, pushes it (the registry serves the manifest docker
#      made, each layer uncompressing to its diff id) and pulls it back with
#      the same image ID; pushes a two-platform index with docker manifest
#      and pulls each platform from it; pushes the image to a second
#      repository by cross-repository mounts only (POST ?mount= answered 201,
#      no layer uploaded); deletes the manifest there by digest, after which
#      docker pull of that digest fails there and works in the first one;
#   6. buildah (vfs, private root) builds an image from the OCI layout and
#      files, pushes it (the registry's manifest is the digest buildah
#      wrote) and pulls it back with the same image ID and digest;
#   7. containerd's ctr (a containerd of the test's own) imports an OCI
#      archive and pushes it: the registry holds the archive's exact bytes;
#      ctr pulls a two-platform index and exports it with every digest
#      unchanged;
#   and, when BERTH is built with ASan and UBSan, that berth.log holds no
#   sanitizer report once the workers have stopped.
#
# Usage: tests/clients/run.sh
#   BERTH  the berth binary to test (default: build/berth of this repository)
#   KEEP=1 keep the data and work directories even when every check passes
# Prints "ok - NAME" or "not ok - NAME" with the reason for each check, and as
# its last line "N passed, N failed"; exits non-zero when any check failed.
#   DOCKER the docker client (default /usr/bin/docker, the one docker.io
#          installs, which matches its dockerd)
# Needs skopeo, podman, docker.io, buildah, containerd, nginx, curl, python3,
# GNU tar and gzip, and root for the daemons; the image itself is built by
# build-image.sh and cached in /var/cache/berth-test.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
BERTH=$(realpath -m "${BERTH:-build/berth}")
OCI=$HERE/oci.py
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-300}
DOCKER=${DOCKER:-/usr/bin/docker}

PASSED=0
FAILED=0
SERVER_UP=false
OWN_CACHE=false
CLIENT_CACHE=skopeo
WORK=$(mktemp -d /tmp/berth-clients-work.XXXXXX)
DATA_DIR=$(mktemp -d /tmp/berth-clients-data.XXXXXX)
chmod 755 "$DATA_DIR"
LOGS=$WORK/logs
CONF=$WORK/conf
mkdir -p "$LOGS" "$CONF" "$WORK/tmp"
# The daemons' own directories: their unix sockets' paths must stay short.
DOCKER_DIR=$WORK/docker
CONTAINERD_DIR=$WORK/containerd
CONTAINERD_SOCK=$CONTAINERD_DIR/containerd.sock

# ---------------------------------------------------------------- reporting

# fail MESSAGE...: inside a check, give the reason and fail the check.
fail() {
	echo "$*"
	exit 1
}

# step NAME FUNCTION [ARG...]: runs one check in a subshell with errexit on,
# its output kept in a log that is shown when the check fails.
step() {
	local name=$1 number=$((PASSED + FAILED + 1)) rc=0 start=$SECONDS
	shift
	local log=$LOGS/step-$number.log
	set +e
	(
		set -e
		"$@"
	) >"$log" 2>&1
	rc=$?
	set -e
	if [ "$rc" -eq 0 ]; then
		PASSED=$((PASSED + 1))
		echo "ok - $name ($((SECONDS - start))s)"
	else
		FAILED=$((FAILED + 1))
		echo "not ok - $name ($((SECONDS - start))s)"
		tail -n 40 "$log" | cut -c1-400 | sed 's/^/#   /'
	fi
}

# run_client NAME COMMAND...: runs a client command with a time limit, its
# standard output in $LOGS/NAME.out and its standard error (where the debug
# log goes) in $LOGS/NAME.log; on failure prints the command, its error, the
# last requests it made (so the one it failed on) and the log's path.
run_client() {
	local name=$1 rc=0 own_cache=()
	shift
	if $OWN_CACHE; then
		mkdir -p "$WORK/cache/$CLIENT_CACHE"
		own_cache=("$HERE/own-cache.sh" "$WORK/cache/$CLIENT_CACHE")
	fi
	timeout "$CLIENT_TIMEOUT" "${own_cache[@]}" "$@" >"$LOGS/$name.out" 2>"$LOGS/$name.log" || rc=$?
	[ "$rc" -ne 0 ] || return 0
	[ "$rc" -ne 124 ] || echo "timed out after ${CLIENT_TIMEOUT}s"
	echo "command failed (exit $rc): $*"
	echo "its last requests:"
	grep -E 'msg="(GET|HEAD|POST|PUT|PATCH|DELETE) ' "$LOGS/$name.log" | tail -n 4 |
		sed -E 's/^time="[^"]*" level=debug msg="([^"]*)"$/  \1/; s/_state=[^&"]*&?//'
	echo "its error:"
	grep -vE 'level=(debug|info)' "$LOGS/$name.log" | tail -n 3
	echo "full output: $LOGS/$name.log"
	return 1
}

# Clients run with $WORK/cache/$CLIENT_CACHE mounted over
# /var/lib/containers/cache (own-cache.sh), where skopeo and podman running
# as root remember which blobs they saw where. Without it an earlier run, or
# another client, would make them skip uploads this test means to make (a
# HEAD that finds the blob, or a cross-repository mount instead).
# own_cache_works: whether that works on this machine.
own_cache_works() {
	mkdir -p /var/lib/containers/cache "$WORK/cache/probe"
	unshare --mount --propagation private \
		mount --bind "$WORK/cache/probe" /var/lib/containers/cache 2>/dev/null
}

skopeo_client() {
	local name=$1
	shift
	run_client "$name" skopeo --debug --policy "$CONF/policy.json" \
		--registries.d "$CONF/registries.d" "$@"
}

podman_client() {
	local name=$1
	shift
	CLIENT_CACHE=podman run_client "$name" podman --log-level="${PODMAN_LOG_LEVEL:-debug}" \
		--root "$WORK/podman/root" --runroot "$WORK/podman/runroot" \
		--storage-driver vfs --cgroup-manager=cgroupfs --events-backend=file "$@"
}

# ---------------------------------------------------------------- set-up

require_tools() {
	local tool missing=() status=0
	for tool in skopeo podman "$DOCKER" dockerd buildah containerd ctr curl \
	    /usr/bin/python3 tar gzip sha256sum timeout unshare; do
		command -v "$tool" >/dev/null || missing+=("$tool")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "missing: ${missing[*]} (apt-get install skopeo podman docker.io buildah containerd curl python3)"
		status=1
	fi
	if [ ! -x "$BERTH" ]; then
		echo "no berth binary at $BERTH (run make, or set BERTH)"
		status=1
	fi
	if [ ! -x "$ROOT/nginx/serve.sh" ]; then
		echo "no $ROOT/nginx/serve.sh"
		status=1
	fi
	return $status
}

# Client configuration of our own, so nothing in /etc/containers or $HOME
# changes what the clients do.
write_client_config() {
	mkdir -p "$CONF/registries.d" "$WORK/podman"
	echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$CONF/policy.json"
	echo '{"auths":{}}' >"$CONF/auth.json"
	cat >"$CONF/registries.conf" <<-EOF
		unqualified-search-registries = []
		[[registry]]
		location = "$REGISTRY"
		insecure = true
	EOF
	cat >"$CONF/containers.conf" <<-EOF
		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		events_logfile_path = "$WORK/podman/events.log"
	EOF
	cat >"$CONF/storage.conf" <<-EOF
		[storage]
		driver = "vfs"
		graphroot = "$WORK/podman/root"
		runroot = "$WORK/podman/runroot"
	EOF
	export CONTAINERS_REGISTRIES_CONF=$CONF/registries.conf
	export CONTAINERS_CONF=$CONF/containers.conf
	export CONTAINERS_STORAGE_CONF=$CONF/storage.conf
	export REGISTRY_AUTH_FILE=$CONF/auth.json
	export TMPDIR=$WORK/tmp
}

free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_registry() {
	PORT=$(free_port)
	REGISTRY=127.0.0.1:$PORT
	SERVER_UP=true
	PORT=$PORT DATA_DIR=$DATA_DIR BERTH=$BERTH "$ROOT/nginx/serve.sh" start \
		>"$LOGS/serve-start.log" 2>&1 || {
		echo "nginx/serve.sh start failed:"
		tail -n 20 "$LOGS/serve-start.log"
		return 1
	}
}

stop_registry() {
	if $SERVER_UP; then
		SERVER_UP=false
		DATA_DIR=$DATA_DIR "$ROOT/nginx/serve.sh" stop >"$LOGS/serve-stop.log" 2>&1 ||
			echo "# nginx/serve.sh stop failed, see $LOGS/serve-stop.log"
	fi
}

# setup NAME COMMAND...: like step, but runs in this shell (so it can set
# variables) and ends the run when it fails: nothing after it could pass.
setup() {
	local name=$1 start=$SECONDS
	shift
	if "$@" >"$LOGS/setup.log" 2>&1; then
		echo "ok - $name ($((SECONDS - start))s)"
		PASSED=$((PASSED + 1))
	else
		echo "not ok - $name"
		tail -n 30 "$LOGS/setup.log" | sed 's/^/#   /'
		FAILED=$((FAILED + 1))
		exit 1
	fi
}

build_image() {
	LAYOUT=$("$HERE/build-image.sh")
}

on_exit() {
	local rc=$?
	stop_daemon dockerd "$DOCKER_DIR/dockerd.pid"
	stop_daemon containerd "$DOCKER_DIR/containerd/containerd.pid"
	stop_daemon containerd "$CONTAINERD_DIR/containerd.pid"
	stop_registry
	if [ "$FAILED" -eq 0 ] && [ "$rc" -ne 0 ]; then
		echo "not ok - run.sh stopped early (exit $rc)"
		FAILED=$((FAILED + 1))
	fi
	if [ "$FAILED" -gt 0 ]; then
		echo "# berth log: $DATA_DIR/run/berth.log"
		echo "# nginx error log: $DATA_DIR/run/nginx-error.log"
		echo "# client logs: $LOGS"
		for f in "$DATA_DIR/run/berth.log" "$DATA_DIR/run/nginx-error.log"; do
			[ -s "$f" ] || continue
			echo "# last lines of $f:"
			tail -n 15 "$f" | cut -c1-300 | sed 's/^/#   /'
		done
	elif [ "${KEEP:-}" != 1 ]; then
		rm -rf "$WORK" "$DATA_DIR"
	fi
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ] || exit 1
}

# ---------------------------------------------------------------- helpers

# same_image LAYOUT TAG OUT TAG: both layouts hold the same blobs under the
# tags (every digest and size equal) and every blob file in OUT hashes to its
# name, so the bytes are identical too.
same_image() {
	"$OCI" tree "$1" "$2" >"$WORK/want" || fail "cannot read $1:$2"
	"$OCI" tree "$3" "$4" >"$WORK/got" || fail "pulled image $3:$4 is broken"
	diff -u "$WORK/want" "$WORK/got" || fail "pulled digests differ from pushed ones (- pushed, + pulled)"
	echo "same $(wc -l <"$WORK/got") blobs:"
	cat "$WORK/got"
}

# top_digest LAYOUT TAG: the digest of the manifest or index that TAG names.
top_digest() {
	"$OCI" tree "$1" "$2" | awk 'NR == 1 { print $2 }'
}

blob_file() {
	echo "$LAYOUT/blobs/sha256/${1#sha256:}"
}

# raw_manifest_is NAME REFERENCE DIGEST: the registry's manifest for
# REFERENCE (":tag" or "@digest") has exactly the bytes of blob DIGEST.
raw_manifest_is() {
	local repository=$1 reference=$2 digest=$3 name out
	name=inspect-$(echo "$repository$reference" | tr -c 'a-z0-9\n' _)
	out=$LOGS/$name.out
	skopeo_client "$name" inspect --raw --tls-verify=false "docker://$REGISTRY/$repository$reference"
	cmp "$out" "$(blob_file "$digest")" ||
		fail "manifest of $repository$reference is not the pushed bytes of $digest: got $(head -c 300 "$out")"
	echo "$repository$reference: $(wc -c <"$out") bytes, identical to $digest"
}

# ---------------------------------------------------------------- 1. image

push_image() {
	skopeo_client push-image copy --dest-tls-verify=false \
		"oci:$LAYOUT:v1" "docker://$REGISTRY/test/image:v1"
}

pull_image() {
	skopeo_client pull-image copy --src-tls-verify=false \
		"docker://$REGISTRY/test/image:v1" "oci:$WORK/out-image:v1"
	same_image "$LAYOUT" v1 "$WORK/out-image" v1
}

inspect_image() {
	local digest
	digest=$(top_digest "$LAYOUT" v1)
	raw_manifest_is test/image :v1 "$digest"
	raw_manifest_is test/image "@$digest" "$digest"
}

# ---------------------------------------------------------------- 2. index

push_index() {
	skopeo_client push-index copy --all --dest-tls-verify=false \
		"oci:$LAYOUT:multi" "docker://$REGISTRY/test/multi:v1"
}

pull_index() {
	skopeo_client pull-index copy --all --src-tls-verify=false \
		"docker://$REGISTRY/test/multi:v1" "oci:$WORK/out-multi:v1"
	same_image "$LAYOUT" multi "$WORK/out-multi" v1
	grep -c '^manifest ' "$WORK/got" | grep -qx 2 || fail "expected two image manifests in the index"
}

inspect_index() {
	local digest
	raw_manifest_is test/multi :v1 "$(top_digest "$LAYOUT" multi)"
	for digest in $("$OCI" tree "$LAYOUT" multi | awk '$1 == "manifest" { print $2 }'); do
		raw_manifest_is test/multi "@$digest" "$digest"
	done
}

# ---------------------------------------------------------------- 3. podman

podman_load() {
	local config
	podman_client podman-load pull --signature-policy "$CONF/policy.json" "oci:$LAYOUT:v1"
	# Podman's image ID is the config digest, which nothing here changes.
	config=$("$OCI" tree "$LAYOUT" v1 | awk '$1 == "config" { print $2 }')
	echo "${config#sha256:}" >"$WORK/podman-id"
	podman_client podman-exists image exists "${config#sha256:}" ||
		fail "podman has no image ${config#sha256:} after loading oci:$LAYOUT:v1"
}

podman_push() {
	podman_client podman-push push --tls-verify=false --signature-policy "$CONF/policy.json" \
		"$(cat "$WORK/podman-id")" "docker://$REGISTRY/test/podman:v1"
}

podman_pull() {
	local id want got
	id=$(cat "$WORK/podman-id")
	podman_client podman-rmi rmi --force "$id"
	if podman_client podman-gone image exists "$id" >/dev/null; then
		fail "podman rmi left image $id"
	fi
	podman_client podman-pull pull --tls-verify=false --signature-policy "$CONF/policy.json" \
		"$REGISTRY/test/podman:v1"
	PODMAN_LOG_LEVEL=error podman_client podman-inspect image inspect \
		--format '{{.Id}} {{range .RootFS.Layers}}{{.}} {{end}}' "$REGISTRY/test/podman:v1"
	got=$(cat "$LOGS/podman-inspect.out")
	want="$id $("$OCI" diff-ids "$LAYOUT" v1 | tr '\n' ' ')"
	[ "$got" = "$want" ] || fail "podman image inspect: got '$got', pushed '$want'"
	echo "image ID and diff ids: $got"
}

# ---------------------------------------------------------------- 4. two at once

push_twins() {
	local rc_a=0 rc_b=0
	CLIENT_CACHE=twin-a skopeo_client push-twin-a copy --dest-tls-verify=false \
		"oci:$LAYOUT:twin-a" "docker://$REGISTRY/test/twin-a:v1" >"$WORK/twin-a.out" 2>&1 &
	local pid_a=$!
	CLIENT_CACHE=twin-b skopeo_client push-twin-b copy --dest-tls-verify=false \
		"oci:$LAYOUT:twin-b" "docker://$REGISTRY/test/twin-b:v1" >"$WORK/twin-b.out" 2>&1 &
	local pid_b=$!
	wait "$pid_a" || rc_a=$?
	wait "$pid_b" || rc_b=$?
	cat "$WORK/twin-a.out" "$WORK/twin-b.out"
	[ "$rc_a" -eq 0 ] || fail "push of twin-a failed"
	[ "$rc_b" -eq 0 ] || fail "push of twin-b failed"
	report_uploads
}

# Tells whether both clients really sent the shared big layer, so a pass
# means the two uploads ran side by side (informational only: skopeo may
# skip an upload when the other client's copy is already visible).
report_uploads() {
	local big twin
	big=$("$OCI" tree "$LAYOUT" twin-a | awk '$1 == "layer" { print $2; exit }')
	for twin in a b; do
		if grep -q "PUT .*${big#sha256:}" "$LOGS/push-twin-$twin.log" ||
			grep -q "PUT .*${big/:/%3A}" "$LOGS/push-twin-$twin.log"; then
			echo "twin-$twin uploaded $big"
		else
			echo "twin-$twin did not upload $big itself"
		fi
	done
}

blobs_stored_once() {
	local digest hex files
	"$OCI" tree "$LAYOUT" twin-a >"$WORK/twin-a.tree"
	"$OCI" tree "$LAYOUT" twin-b >"$WORK/twin-b.tree"
	awk '$1 == "config" || $1 == "layer" { print $2 }' "$WORK/twin-a.tree" "$WORK/twin-b.tree" |
		sort -u >"$WORK/twin-blobs"
	while read -r digest; do
		hex=${digest#sha256:}
		files=$(find "$DATA_DIR/blobs/" -type f -path "*$hex*")
		[ -n "$files" ] || fail "no file for $digest under $DATA_DIR/blobs"
		[ "$(echo "$files" | wc -l)" -eq 1 ] || fail "$digest is stored more than once: $files"
		[ "$(sha256sum <"$files" | cut -d' ' -f1)" = "$hex" ] || fail "$files does not hash to $digest"
		echo "$digest once: $files"
	done <"$WORK/twin-blobs"
}

pull_twins() {
	local twin
	for twin in twin-a twin-b; do
		skopeo_client "pull-$twin" copy --src-tls-verify=false \
			"docker://$REGISTRY/test/$twin:v1" "oci:$WORK/out-$twin:v1"
		same_image "$LAYOUT" "$twin" "$WORK/out-$twin" v1
	done
}

# ---------------------------------------------------------------- daemons

# wait_daemon NAME PID LOG COMMAND...: waits up to 30 s until COMMAND
# succeeds (the daemon answers on its socket); fails at once, with the end
# of LOG, when the daemon PID has exited.
wait_daemon() {
	local name=$1 pid=$2 log=$3 i
	shift 3
	for ((i = 0; i < 300; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$name exited at start-up; the end of $log:"
			tail -n 25 "$log"
			return 1
		fi
		if "$@" >/dev/null 2>&1; then
			echo "$name ($pid) answers after $((i / 10)).$((i % 10))s"
			return 0
		fi
		sleep 0.1
	done
	echo "$name ($pid) did not answer in 30s; the end of $log:"
	tail -n 25 "$log"
	return 1
}

# stop_daemon NAME PIDFILE: stops the daemon this script started (its pid
# in PIDFILE, which goes): SIGTERM, then SIGKILL after 15 s.
stop_daemon() {
	local name=$1 pidfile=$2 pid i
	[ -f "$pidfile" ] || return 0
	pid=$(cat "$pidfile")
	rm -f "$pidfile"
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 150; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "# $name ($pid) did not stop in 15s; killed"
	kill -KILL "$pid" 2>/dev/null || true
}

# containerd_in DIR: starts a containerd of our own, everything under DIR:
# root, state, sockets (DIR/containerd.sock for clients) and its opt
# directory (else /opt/containerd), no CRI plugin (so no CNI); pulls and
# pushes need no more. Its pid goes to DIR/containerd.pid, its log to
# DIR/containerd.log.
containerd_in() {
	local dir=$1
	[ "$(id -u)" = 0 ] || fail "containerd needs root here"
	mkdir -p "$dir"
	cat >"$dir/config.toml" <<-EOF
		version = 2
		root = "$dir/root"
		state = "$dir/state"
		disabled_plugins = ["io.containerd.grpc.v1.cri"]
		[grpc]
		  address = "$dir/containerd.sock"
		[ttrpc]
		  address = "$dir/containerd.sock.ttrpc"
		[debug]
		  address = "$dir/debug.sock"
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$dir/opt"
	EOF
	containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 </dev/null &
	echo $! >"$dir/containerd.pid"
	wait_daemon containerd "$!" "$dir/containerd.log" ctr --address "$dir/containerd.sock" version
}

# config_of TAG: the config digest of the layout's image TAG, which is the
# image ID docker, podman and buildah give it.
config_of() {
	"$OCI" tree "$LAYOUT" "$1" | awk '$1 == "config" { print $2; exit }'
}

# access_log_through PATTERN: every request the web server logged (nginx,
# lighttpd and Apache all log the request line, then the status), once a
# line matches the extended regular expression PATTERN (the last request of
# what is looked at): lighttpd writes its log with a delay of up to a few
# seconds. Waits up to 10 s.
access_log_through() {
	local i
	for ((i = 0; i < 100; i++)); do
		if grep -qhE "$1" "$DATA_DIR"/run/*-access.log; then
			cat "$DATA_DIR"/run/*-access.log
			return 0
		fi
		sleep 0.1
	done
	fail "no line matching '$1' in $DATA_DIR/run/*-access.log after 10s"
}

# ---------------------------------------------------------------- 5. docker

# A dockerd of our own: everything under $DOCKER_DIR, no network set-up
# (no iptables rules, no bridge, the host's IP forwarding left as it is),
# berth (plain HTTP on loopback) an insecure registry. The settings are all
# in its own daemon.json, so /etc/docker/daemon.json plays no part; the
# trust key goes there too instead of /etc/docker/key.json. It runs on a
# containerd of its own (the one dockerd would start makes /opt/containerd).
# Outside $DOCKER_DIR, dockerd makes only /run/docker/plugins (fixed in it).
start_dockerd() {
	mkdir -p "$DOCKER_DIR/root" "$DOCKER_DIR/exec" "$DOCKER_DIR/config"
	containerd_in "$DOCKER_DIR/containerd"
	cat >"$DOCKER_DIR/daemon.json" <<-EOF
		{
		  "storage-driver": "vfs",
		  "iptables": false,
		  "ip-masq": false,
		  "ip-forward": false,
		  "bridge": "none",
		  "data-root": "$DOCKER_DIR/root",
		  "exec-root": "$DOCKER_DIR/exec",
		  "pidfile": "$DOCKER_DIR/dockerd-own.pid",
		  "hosts": ["unix://$DOCKER_DIR/docker.sock"],
		  "containerd": "$DOCKER_DIR/containerd/containerd.sock",
		  "insecure-registries": ["$REGISTRY"],
		  "deprecated-key-path": "$DOCKER_DIR/key.json",
		  "debug": true
		}
	EOF
	dockerd --config-file "$DOCKER_DIR/daemon.json" >"$LOGS/dockerd.log" 2>&1 </dev/null &
	echo $! >"$DOCKER_DIR/dockerd.pid"
	wait_daemon dockerd "$!" "$LOGS/dockerd.log" docker_cli version
	docker_cli version --format 'client {{.Client.Version}}, server {{.Server.Version}}'
}

# docker_cli ARG...: the docker client talking to our dockerd only, with a
# configuration directory of its own (docker manifest keeps lists there).
docker_cli() {
	DOCKER_HOST=unix://$DOCKER_DIR/docker.sock DOCKER_CONFIG=$DOCKER_DIR/config \
		DOCKER_CLI_EXPERIMENTAL=enabled "$DOCKER" "$@"
}

docker_client() {
	local name=$1
	shift
	run_client "$name" env DOCKER_HOST="unix://$DOCKER_DIR/docker.sock" \
		DOCKER_CONFIG="$DOCKER_DIR/config" DOCKER_CLI_EXPERIMENTAL=enabled "$DOCKER" "$@"
}

# pushed_digest NAME: the digest docker push reported in $LOGS/NAME.out.
pushed_digest() {
	sed -n 's/^.*: digest: \(sha256:[0-9a-f]\{64\}\) size: [0-9]*$/\1/p' "$LOGS/$1.out" | tail -n 1
}

# docker_image_is NAME REFERENCE WANT: docker image inspect of REFERENCE
# prints WANT: "ID ARCH DIFF-ID..." of the image.
docker_image_is() {
	local name=$1 reference=$2 want=$3 got
	docker_client "$name" image inspect \
		--format '{{.Id}} {{.Architecture}}{{range .RootFS.Layers}} {{.}}{{end}}' "$reference"
	got=$(cat "$LOGS/$name.out")
	[ "$got" = "$want" ] || fail "docker image inspect $reference: got '$got', want '$want'"
	echo "$reference: $got"
}

# image_line TAG ARCH: what docker_image_is wants for the layout's TAG.
image_line() {
	echo "$(config_of "$1") $2 $("$OCI" diff-ids "$LAYOUT" "$1" | paste -sd ' ')"
}

# remote_image_is REPOSITORY REFERENCE DIGEST TAG: the registry's
# REFERENCE in REPOSITORY is manifest DIGEST (its bytes hash to it), of the
# config of the layout's TAG, each layer uncompressing to TAG's diff ids.
# Clients that compress layers themselves push other layer blobs than the
# layout's; this is what must stay the same.
remote_image_is() {
	local repository=$1 reference=$2 digest=$3 tag=$4 tree=$WORK/remote.tree got
	"$OCI" remote --details "http://$REGISTRY" "$repository" "$reference" >"$tree" ||
		fail "the registry's $repository $reference is broken"
	cat "$tree"
	got=$(awk 'NR == 1 { print $1, $2 }' "$tree")
	[ "$got" = "manifest $digest" ] || fail "$repository $reference is '$got', pushed manifest $digest"
	got=$(awk '$1 == "config" { print $2 }' "$tree")
	[ "$got" = "$(config_of "$tag")" ] || fail "$repository $reference has config $got, pushed $(config_of "$tag")"
	diff -u <("$OCI" diff-ids "$LAYOUT" "$tag") <(awk '$1 == "diff-id" { print $2 }' "$tree") ||
		fail "$repository $reference: diff ids differ (- the image's, + the registry's)"
}

# docker load takes docker archives, which skopeo makes from the layout;
# docker keeps the config as it is, so the image ID is the config digest.
docker_load() {
	local tag
	for tag in mini mini-arm64; do
		skopeo_client "docker-archive-$tag" copy "oci:$LAYOUT:$tag" \
			"docker-archive:$WORK/$tag.docker.tar:berth-test/$tag:v1"
	done
	docker_client docker-load load --input "$WORK/mini.docker.tar"
	docker_image_is docker-load-inspect berth-test/mini:v1 "$(image_line mini amd64)"
}

docker_push() {
	local digest
	docker_client docker-tag tag berth-test/mini:v1 "$REGISTRY/test/docker:v1"
	docker_client docker-push push "$REGISTRY/test/docker:v1"
	digest=$(pushed_digest docker-push)
	[ -n "$digest" ] || fail "docker push printed no digest: $(cat "$LOGS/docker-push.out")"
	echo "$digest" >"$WORK/docker.digest"
	remote_image_is test/docker v1 "$digest" mini
	remote_image_is test/docker "$digest" "$digest" mini
}

docker_pull() {
	local digest got
	digest=$(cat "$WORK/docker.digest")
	docker_client docker-rmi rmi "$REGISTRY/test/docker:v1" berth-test/mini:v1
	if docker_client docker-gone image inspect "$(config_of mini)"; then
		fail "docker rmi left image $(config_of mini)"
	fi
	docker_client docker-pull pull "$REGISTRY/test/docker:v1"
	cat "$LOGS/docker-pull.out"
	grep -qx "Digest: $digest" "$LOGS/docker-pull.out" || fail "docker pull did not report digest $digest"
	got=$(grep -c ': Pull complete$' "$LOGS/docker-pull.out" || true)
	[ "$got" = 3 ] || fail "docker pulled $got layers, the image has 3"
	docker_image_is docker-pull-inspect "$REGISTRY/test/docker:v1" "$(image_line mini amd64)"
	docker_client docker-repo-digests image inspect --format '{{range .RepoDigests}}{{.}} {{end}}' \
		"$REGISTRY/test/docker:v1"
	grep -qw "$REGISTRY/test/docker@$digest" "$LOGS/docker-repo-digests.out" ||
		fail "docker's repo digests are '$(cat "$LOGS/docker-repo-digests.out")', pushed $digest"
}

# Both platforms' images are pushed by tag, then docker manifest makes the
# index (it reads each one's platform from its config) and pushes it; each
# platform is pulled back from the index alone.
docker_index() {
	local amd64 arm64 index repo=$REGISTRY/test/docker-multi
	docker_client docker-load-arm64 load --input "$WORK/mini-arm64.docker.tar"
	docker_client docker-tag-amd64 tag "$REGISTRY/test/docker:v1" "$repo:amd64"
	docker_client docker-tag-arm64 tag berth-test/mini-arm64:v1 "$repo:arm64"
	docker_client docker-push-amd64 push "$repo:amd64"
	docker_client docker-push-arm64 push "$repo:arm64"
	amd64=$(pushed_digest docker-push-amd64)
	arm64=$(pushed_digest docker-push-arm64)
	docker_client docker-manifest-create manifest create --insecure "$repo:v1" "$repo:amd64" "$repo:arm64"
	docker_client docker-manifest-push manifest push --insecure "$repo:v1"
	index=$(grep -xE 'sha256:[0-9a-f]{64}' "$LOGS/docker-manifest-push.out" | tail -n 1)
	[ -n "$index" ] || fail "docker manifest push printed no digest: $(cat "$LOGS/docker-manifest-push.out")"
	"$OCI" remote --details "http://$REGISTRY" test/docker-multi v1 >"$WORK/docker-multi.tree" ||
		fail "the registry's test/docker-multi:v1 is broken"
	cat "$WORK/docker-multi.tree"
	printf 'index %s\nplatform linux/amd64\nmanifest %s\nplatform linux/arm64/v8\nmanifest %s\n' \
		"$index" "$amd64" "$arm64" >"$WORK/docker-multi.want"
	awk '$1 == "index" || $1 == "platform" || $1 == "manifest" { print $1, $2 }' \
		"$WORK/docker-multi.tree" >"$WORK/docker-multi.got"
	diff -u "$WORK/docker-multi.want" "$WORK/docker-multi.got" ||
		fail "the registry's index is not the one docker pushed (- pushed, + served)"

	docker_client docker-rmi-multi rmi "$repo:amd64" "$repo:arm64" "$REGISTRY/test/docker:v1" \
		berth-test/mini-arm64:v1
	docker_client docker-pull-index pull "$repo@$index"
	docker_client docker-pull-arm64 pull --platform linux/arm64 "$repo:v1"
	docker_image_is docker-index-amd64 "$repo@$index" "$(image_line mini amd64)"
	docker_image_is docker-index-arm64 "$repo:v1" "$(image_line mini-arm64 arm64)"
}

# The image docker pushed to test/docker goes to test/docker-mount: docker
# asks to mount each layer from a repository it knows holds it (the last it
# pushed it to or pulled it from: test/docker-multi here), and the access
# log must show each such POST answered 201 and no upload session ending in
# that layer.
docker_mount() {
	local digest layer hex upload session put log=$WORK/access.log
	digest=$(cat "$WORK/docker.digest")
	docker_client docker-tag-mount tag "$(config_of mini)" "$REGISTRY/test/docker-mount:v1"
	docker_client docker-push-mount push "$REGISTRY/test/docker-mount:v1"
	cat "$LOGS/docker-push-mount.out"
	[ "$(pushed_digest docker-push-mount)" = "$digest" ] ||
		fail "docker pushed test/docker-mount:v1 as $(pushed_digest docker-push-mount), test/docker:v1 as $digest"
	remote_image_is test/docker-mount v1 "$digest" mini
	access_log_through '"PUT [^ "]*/v2/test/docker-mount/manifests/v1 HTTP/[0-9.]+" 201 ' >"$log"
	upload='[^ "]*/v2/test/docker-mount/blobs/uploads/'
	for layer in $(awk '$1 == "layer" { print $2 }' "$WORK/remote.tree"); do
		hex=${layer#sha256:}
		grep -E "\"POST $upload\?[^ \"]*mount=sha256(:|%3A)${hex}[^ \"]* HTTP/[0-9.]+\" 201 " "$log" ||
			fail "no POST ...?mount=$layer answered 201 for test/docker-mount in the access log"
		if grep -E "\"PUT ${upload}[^ \"]*digest=sha256(:|%3A)$hex" "$log"; then
			fail "$layer was uploaded to test/docker-mount instead of mounted"
		fi
	done
	# A PATCH carries no digest: its session's closing PUT names the blob.
	for session in $(grep -oE "\"PATCH ${upload}[^ \"?]+" "$log" | sed 's|.*/||' | sort -u); do
		put=$(grep -oE "\"PUT $upload$session\?[^ \"]*" "$log" | grep -oE 'sha256(:|%3A)[0-9a-f]{64}' |
			sed 's/%3A/:/' || true)
		[ "$put" = "$(config_of mini)" ] ||
			fail "upload session $session to test/docker-mount (PATCH) ended in '$put', not the config"
		echo "PATCH session $session: the config, $put"
	done
	got=$(grep -c ': Mounted from test/' "$LOGS/docker-push-mount.out" || true)
	[ "$got" = 3 ] || fail "docker reports $got layers mounted, the image has 3"
}

docker_delete() {
	local digest code
	digest=$(cat "$WORK/docker.digest")
	code=$(curl -sS -o "$WORK/delete.body" -w '%{http_code}' -X DELETE \
		"http://$REGISTRY/v2/test/docker-mount/manifests/$digest")
	[ "$code" = 202 ] || fail "DELETE /v2/test/docker-mount/manifests/$digest: $code $(cat "$WORK/delete.body")"
	code=$(curl -sS -o /dev/null -w '%{http_code}' \
		-H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		"http://$REGISTRY/v2/test/docker-mount/manifests/$digest")
	[ "$code" = 404 ] || fail "GET of the deleted manifest answered $code, not 404"
	if docker_client docker-pull-deleted pull "$REGISTRY/test/docker-mount@$digest"; then
		fail "docker pull of the deleted test/docker-mount@$digest succeeded"
	fi
	grep -q 'manifest unknown' "$LOGS/docker-pull-deleted.log" ||
		fail "docker pull failed, but not with manifest unknown: $(tail -n 3 "$LOGS/docker-pull-deleted.log")"
	echo "test/docker-mount@$digest: $(tail -n 1 "$LOGS/docker-pull-deleted.log")"
	docker_client docker-pull-kept pull "$REGISTRY/test/docker@$digest"
	grep -qx "Digest: $digest" "$LOGS/docker-pull-kept.out" ||
		fail "docker pull of test/docker@$digest: $(cat "$LOGS/docker-pull-kept.out")"
	echo "test/docker@$digest still pulls"
}

# ---------------------------------------------------------------- 6. buildah

buildah_client() {
	local name=$1
	shift
	CLIENT_CACHE=buildah run_client "$name" buildah --log-level="${BUILDAH_LOG_LEVEL:-debug}" \
		--root "$WORK/buildah/root" --runroot "$WORK/buildah/runroot" --storage-driver vfs "$@"
}

# buildah_image REFERENCE: "ID DIGEST DIFF-ID..." of a buildah image (the ID
# without "sha256:"; the digest is that of its manifest).
buildah_image() {
	BUILDAH_LOG_LEVEL=error buildah_client buildah-inspect inspect --type image \
		--format '{{.FromImageID}} {{.FromImageDigest}}{{range .OCIv1.RootFS.DiffIDs}} {{.}}{{end}}' "$1"
	cat "$LOGS/buildah-inspect.out"
}

# The layout's small image and a directory of files make a four-layer image.
buildah_build() {
	local container id got
	mkdir -p "$WORK/buildah/files/etc"
	echo "berth test: the file buildah adds" >"$WORK/buildah/files/etc/berth-buildah"
	buildah_client buildah-from from --quiet --signature-policy "$CONF/policy.json" "oci:$LAYOUT:mini"
	container=$(tail -n 1 "$LOGS/buildah-from.out")
	buildah_client buildah-copy copy "$container" "$WORK/buildah/files/" /
	buildah_client buildah-config config --cmd '["/bin/dash"]' \
		--label org.opencontainers.image.title="berth test image buildah" "$container"
	buildah_client buildah-commit commit --quiet --signature-policy "$CONF/policy.json" \
		"$container" berth-test/buildah:v1
	id=$(tail -n 1 "$LOGS/buildah-commit.out")
	got=$(buildah_image berth-test/buildah:v1)
	echo "$got"
	[ "${got%% *}" = "$id" ] || fail "buildah commit printed $id, the image is ${got%% *}"
	got=$(echo "$got" | cut -d' ' -f3-)
	[ "$(echo "$got" | cut -d' ' -f1-3)" = "$("$OCI" diff-ids "$LAYOUT" mini | paste -sd ' ')" ] ||
		fail "the first three diff ids are not the base image's"
	[ "$(echo "$got" | wc -w)" = 4 ] || fail "the image has $(echo "$got" | wc -w) layers, want 4"
	echo "$id" >"$WORK/buildah.id"
	echo "$got" >"$WORK/buildah.diff-ids"
}

buildah_push() {
	local digest id tree=$WORK/buildah.tree
	id=$(cat "$WORK/buildah.id")
	buildah_client buildah-push push --tls-verify=false --signature-policy "$CONF/policy.json" \
		--digestfile "$WORK/buildah.digest" berth-test/buildah:v1 "docker://$REGISTRY/test/buildah:v1"
	digest=$(cat "$WORK/buildah.digest")
	"$OCI" remote --details "http://$REGISTRY" test/buildah v1 >"$tree" ||
		fail "the registry's test/buildah:v1 is broken"
	cat "$tree"
	[ "$(awk 'NR == 1 { print $1, $2 }' "$tree")" = "manifest $digest" ] ||
		fail "the registry's test/buildah:v1 is $(head -n 1 "$tree"), buildah wrote $digest"
	[ "$(awk '$1 == "config" { print $2 }' "$tree")" = "sha256:$id" ] ||
		fail "the registry's config is not the image's, sha256:$id"
	[ "$(awk '$1 == "diff-id" { print $2 }' "$tree" | paste -sd ' ')" = "$(cat "$WORK/buildah.diff-ids")" ] ||
		fail "the registry's diff ids are not the image's"
}

buildah_pull() {
	local digest id got
	id=$(cat "$WORK/buildah.id")
	digest=$(cat "$WORK/buildah.digest")
	buildah_client buildah-rm rm --all
	buildah_client buildah-rmi rmi --all --force
	BUILDAH_LOG_LEVEL=error buildah_client buildah-images images --quiet
	[ ! -s "$LOGS/buildah-images.out" ] || fail "buildah rmi --all left: $(cat "$LOGS/buildah-images.out")"
	buildah_client buildah-pull pull --tls-verify=false --signature-policy "$CONF/policy.json" \
		"docker://$REGISTRY/test/buildah:v1"
	got=$(buildah_image "$REGISTRY/test/buildah:v1")
	[ "$got" = "$id $digest $(cat "$WORK/buildah.diff-ids")" ] ||
		fail "buildah pulled '$got', pushed '$id $digest $(cat "$WORK/buildah.diff-ids")'"
	echo "ID, digest and diff ids: $got"
}

# ---------------------------------------------------------------- 7. ctr

start_containerd() {
	containerd_in "$CONTAINERD_DIR"
}

ctr_client() {
	local name=$1
	shift
	run_client "$name" ctr --address "$CONTAINERD_SOCK" --debug "$@"
}

# ctr_has NAME REFERENCE DIGEST: ctr images ls lists REFERENCE as DIGEST.
ctr_has() {
	local got
	ctr_client "$1" images ls
	got=$(awk -v ref="$2" '$1 == ref { print $3 }' "$LOGS/$1.out")
	[ "$got" = "$3" ] || fail "ctr images ls: $2 is '$got', not $3: $(cat "$LOGS/$1.out")"
}

# ctr pushes an image's blobs as they are: the registry must hold exactly
# the layout's bytes. containerd 1.6 sends each blob as the body of the
# upload session's closing PUT (POST, then PUT ?digest=, no PATCH).
ctr_push() {
	local digest hex log=$WORK/access.log
	skopeo_client oci-archive-ctr copy "oci:$LAYOUT:ctr" "oci-archive:$WORK/ctr.oci.tar:v1"
	ctr_client ctr-import images import --no-unpack --base-name "$REGISTRY/test/ctr" "$WORK/ctr.oci.tar"
	ctr_has ctr-ls "$REGISTRY/test/ctr:v1" "$(top_digest "$LAYOUT" ctr)"
	ctr_client ctr-push images push --plain-http "$REGISTRY/test/ctr:v1"
	"$OCI" tree "$LAYOUT" ctr >"$WORK/ctr.want"
	"$OCI" remote "http://$REGISTRY" test/ctr v1 >"$WORK/ctr.got" || fail "the registry's test/ctr:v1 is broken"
	diff -u "$WORK/ctr.want" "$WORK/ctr.got" || fail "the registry's digests differ (- pushed, + served)"
	cat "$WORK/ctr.got"
	raw_manifest_is test/ctr :v1 "$(top_digest "$LAYOUT" ctr)"
	access_log_through '"PUT [^ "]*/v2/test/ctr/manifests/v1 HTTP/[0-9.]+" 201 ' >"$log"
	for digest in $(awk '$1 == "config" || $1 == "layer" { print $2 }' "$WORK/ctr.want"); do
		hex=${digest#sha256:}
		grep -qE "\"PUT [^ \"]*/v2/test/ctr/blobs/uploads/[^ \"]*digest=sha256(:|%3A)$hex HTTP/[0-9.]+\" 201 " "$log" ||
			fail "no upload of $digest to test/ctr ended in a PUT answered 201"
	done
	echo "ctr's requests to test/ctr: $(grep -oE '"[A-Z]+ [^ "]*/v2/test/ctr/' "$log" | cut -d' ' -f1 |
		sort | uniq -c | paste -sd ' ')"
}

# ctr pulls an index that skopeo pushed, for both platforms, and exports
# it: the export is the layout's image, digest for digest.
ctr_pull() {
	local out=$WORK/out-ctr-multi
	skopeo_client push-ctr-multi copy --all --dest-tls-verify=false \
		"oci:$LAYOUT:mini-multi" "docker://$REGISTRY/test/ctr-multi:v1"
	ctr_client ctr-pull images pull --plain-http --all-platforms --snapshotter native \
		"$REGISTRY/test/ctr-multi:v1"
	ctr_has ctr-ls-multi "$REGISTRY/test/ctr-multi:v1" "$(top_digest "$LAYOUT" mini-multi)"
	ctr_client ctr-export images export --all-platforms "$WORK/ctr-multi.oci.tar" "$REGISTRY/test/ctr-multi:v1"
	mkdir -p "$out"
	tar -xf "$WORK/ctr-multi.oci.tar" -C "$out"
	same_image "$LAYOUT" mini-multi "$out" v1
}

# ---------------------------------------------------------------- afterwards

# With BERTH built with ASan and UBSan, their reports land in berth.log (the
# workers' stderr); leaks are reported when the workers exit, so this runs
# after the registry has stopped.
no_sanitizer_reports() {
	local log=$DATA_DIR/run/berth.log
	[ -f "$log" ] || fail "no $log"
	if grep -nE 'ERROR: [A-Za-z]+Sanitizer|runtime error:|SUMMARY: [A-Za-z]+Sanitizer' "$log"; then
		fail "sanitizer reports in $log"
	fi
}

# ---------------------------------------------------------------- main

main() {
	trap on_exit EXIT
	trap 'exit 130' INT TERM
	setup "clients and berth are installed" require_tools
	setup "build the test image (layout under /var/cache/berth-test)" build_image
	echo "# image layout: $LAYOUT"
	setup "nginx/serve.sh starts berth" start_registry
	echo "# registry: http://$REGISTRY, data: $DATA_DIR"
	write_client_config
	if own_cache_works; then
		OWN_CACHE=true
	else
		echo "# unshare --mount fails here: the clients share /var/lib/containers/cache"
	fi

	step "skopeo copy pushes a three-layer image" push_image
	step "skopeo copy pulls the image back with every digest unchanged" pull_image
	step "skopeo inspect --raw returns the pushed manifest bytes, by tag and by digest" inspect_image

	step "skopeo copy --all pushes a two-platform image index" push_index
	step "skopeo copy --all pulls the index back with every digest unchanged" pull_index
	step "skopeo inspect --raw returns the index and both manifests byte for byte" inspect_index

	step "podman loads the image from the OCI layout (vfs storage)" podman_load
	step "podman push sends the image to berth" podman_push
	step "podman pull brings back the same image ID and layer diff ids" podman_pull

	step "two skopeo clients push images sharing layers at the same time" push_twins
	step "every blob of both images is stored exactly once" blobs_stored_once
	step "both images pull back intact" pull_twins

	step "dockerd starts (vfs, no iptables, no bridge, its own root and socket)" start_dockerd
	step "docker load takes the small image from a docker archive" docker_load
	step "docker push sends a three-layer image; the registry serves it digest for digest" docker_push
	step "docker pull brings back the same image ID, diff ids and repo digest" docker_pull
	step "docker manifest push sends a two-platform index; docker pulls each platform from it" \
		docker_index
	step "docker push to a second repository mounts every layer (POST ?mount= 201, no upload)" \
		docker_mount
	step "DELETE of the manifest by digest: docker pull of it fails there, works in the first repository" \
		docker_delete
	stop_daemon dockerd "$DOCKER_DIR/dockerd.pid"
	stop_daemon containerd "$DOCKER_DIR/containerd/containerd.pid"

	step "buildah builds an image from the OCI layout and files and commits it (vfs)" buildah_build
	step "buildah push sends it; the registry's manifest is the digest buildah wrote" buildah_push
	step "buildah pull brings back the same image ID, digest and diff ids" buildah_pull

	step "containerd starts with its own root, state and socket" start_containerd
	step "ctr images import + push --plain-http: the registry holds the archive's exact bytes" ctr_push
	step "ctr images pull --plain-http --all-platforms of an index: its export is the same image" ctr_pull
	stop_daemon containerd "$CONTAINERD_DIR/containerd.pid"

	stop_registry
	step "berth.log has no sanitizer report after the workers stopped" no_sanitizer_reports
}

main "$@"
