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
#      succeed, every blob is stored exactly once, and both pull back intact
#      (with CLIENTS_S3_PREFIX, tests/s3: once in the object store under
#      that key prefix, and nowhere on the host);
#   and, when BERTH is built with ASan and UBSan, that berth.log holds no
#   sanitizer report once the workers have stopped.
#
# Usage: tests/clients/run.sh
#   BERTH  the berth binary to test (default: build/berth of this repository)
#   KEEP=1 keep the data and work directories even when every check passes
# Prints "ok - NAME" or "not ok - NAME" with the reason for each check, and as
# its last line "N passed, N failed"; exits non-zero when any check failed.
# Needs skopeo, podman, nginx, python3, GNU tar and gzip; the image itself is
# built by build-image.sh and cached in /var/cache/berth-test.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
BERTH=$(realpath -m "${BERTH:-build/berth}")
OCI=$HERE/oci.py
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-300}

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
	for tool in skopeo podman /usr/bin/python3 tar gzip sha256sum timeout unshare; do
		command -v "$tool" >/dev/null || missing+=("$tool")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "missing: ${missing[*]} (apt-get install skopeo podman python3)"
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
		if [ -n "${CLIENTS_S3_PREFIX:-}" ]; then
			# The s3 blob handler (tests/s3): once in the store, and
			# no bytes on this host.
			[ -z "$(find "$DATA_DIR/blobs/" -type f 2>/dev/null)" ] ||
				fail "blob files under $DATA_DIR/blobs with the s3 handler"
			files=$("$ROOT/tests/s3/s3tool.py" ls "$CLIENTS_S3_PREFIX" | grep "$hex")
			[ "$(echo "$files" | grep -c .)" -eq 1 ] || fail "$digest: in the store [$files]"
			[ "$("$ROOT/tests/s3/s3tool.py" get "${files%% *}" | sha256sum | cut -d' ' -f1)" = "$hex" ] ||
				fail "${files%% *} does not hash to $digest"
			echo "$digest once: ${files%% *}"
			continue
		fi
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

	stop_registry
	step "berth.log has no sanitizer report after the workers stopped" no_sanitizer_reports
}

main "$@"
