#!/bin/bash
# Builds the OCI image layout that tests/clients/run.sh pushes and pulls, from
# real files of this machine: each layer is a reproducible tar.gz of the files
# that some installed Debian packages own. Prints the layout directory.
#
# The layout holds four tags:
#   v1     one linux/amd64 image, three layers, the first one over 20 MB
#   multi  an image index: v1's manifest for linux/amd64 and a linux/arm64
#          manifest with another config that shares v1's first two layers
#   twin-a two images sharing a big layer and a small one that no other tag
#   twin-b has, each with one layer of its own (the concurrent-push test)
#   mini   a small linux/amd64 image (three layers, about 1 MB in all) for
#          the clients that store images in a daemon: docker, buildah, ctr
#   mini-arm64  its linux/arm64 sibling (shares two layers)
#   mini-multi  an image index of mini and mini-arm64
#   ctr    a small image (two layers, one shared with mini) that ctr pushes
#
# The result is cached in $BERTH_IMAGE_CACHE (default /var/cache/berth-test)
# under a name derived from this script's own hash, so a rerun takes no time
# and an edited script builds afresh. Needs: dpkg, GNU tar, gzip, sha256sum.
set -euo pipefail

CACHE=${BERTH_IMAGE_CACHE:-/var/cache/berth-test}
KEY=$(sha256sum "$(readlink -f "$0")" | cut -c1-16)
LAYOUT=$CACHE/layout-$KEY
MIN_BIG_LAYER=$((20 * 1024 * 1024))

MT_MANIFEST=application/vnd.oci.image.manifest.v1+json
MT_INDEX=application/vnd.oci.image.index.v1+json
MT_CONFIG=application/vnd.oci.image.config.v1+json
MT_LAYER=application/vnd.oci.image.layer.v1.tar+gzip

declare -A DESC     # layer or manifest name -> compact JSON descriptor
declare -A DIFF_ID  # layer name -> sha256 of the uncompressed tar
declare -A SIZE     # layer name -> compressed size
declare -A HISTORY  # layer name -> what the layer holds

log() { echo "build-image: $*" >&2; }
die() { log "$*"; exit 1; }

# package_paths PKG...: the paths (relative to /, sorted) of the files,
# symlinks and directories that the installed packages among PKG own. Parent
# directories are resolved through symlinks (/lib/x86_64-linux-gnu becomes
# usr/lib/x86_64-linux-gnu on a merged-/usr system), the last component is
# kept as it is, so /lib itself stays the symlink it is.
package_paths() {
	local pkg path dir
	local -A real_dir=()
	for pkg in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
			log "package $pkg is not installed, skipped"
			continue
		fi
		dpkg-query -L "$pkg"
	done | while IFS= read -r path; do
		[ "$path" != /. ] || continue
		[ -e "$path" ] || [ -L "$path" ] || continue
		dir=${path%/*}
		dir=${dir:-/}
		if [ -z "${real_dir[$dir]+set}" ]; then
			real_dir[$dir]=$(readlink -f "$dir")
		fi
		dir=${real_dir[$dir]%/}
		echo "${dir#/}/${path##*/}"
	done | sed 's|^/||' | LC_ALL=C sort -u
}

# add_blob FILE MEDIATYPE NAME: moves FILE into blobs/sha256/ and records its
# descriptor as DESC[NAME].
add_blob() {
	local file=$1 media_type=$2 name=$3 hex size
	hex=$(sha256sum "$file" | cut -d' ' -f1)
	size=$(stat -c %s "$file")
	mv "$file" "$BUILD/blobs/sha256/$hex"
	DESC[$name]=$(printf '{"mediaType":"%s","digest":"sha256:%s","size":%d}' "$media_type" "$hex" "$size")
	SIZE[$name]=$size
}

# make_layer NAME PKG...: one gzip-compressed layer of the packages' files.
make_layer() {
	local name=$1 tar=$BUILD/tmp/$1.tar
	shift
	package_paths "$@" >"$BUILD/tmp/$name.list"
	[ -s "$BUILD/tmp/$name.list" ] || die "layer $name: none of $* is installed"
	tar --create --file="$tar" --directory=/ --no-recursion \
		--format=gnu --sort=name --mtime=@0 \
		--owner=0 --group=0 --numeric-owner --files-from="$BUILD/tmp/$name.list"
	DIFF_ID[$name]=sha256:$(sha256sum "$tar" | cut -d' ' -f1)
	HISTORY[$name]="files of Debian packages: $*"
	gzip -n -6 "$tar"
	add_blob "$tar.gz" "$MT_LAYER" "$name"
	log "layer $name: $(wc -l <"$BUILD/tmp/$name.list") paths, ${SIZE[$name]} bytes (${DIFF_ID[$name]})"
}

# json_list ITEM...: a JSON array of the items, each already JSON.
json_list() {
	local IFS=,
	printf '[%s]' "$*"
}

# make_image NAME ARCH VARIANT LAYER...: a config and a manifest; the
# manifest's descriptor becomes DESC[NAME].
make_image() {
	local name=$1 arch=$2 variant=$3 layer
	shift 3
	local diff_ids=() layers=() history=() file=$BUILD/tmp/$name
	for layer in "$@"; do
		diff_ids+=("\"${DIFF_ID[$layer]}\"")
		layers+=("${DESC[$layer]}")
		history+=("$(printf '{"created":"1970-01-01T00:00:00Z","created_by":"%s"}' "${HISTORY[$layer]}")")
	done
	printf '{"created":"1970-01-01T00:00:00Z","architecture":"%s",%s"os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/bash"],"Labels":{"org.opencontainers.image.title":"berth test image %s"}},"rootfs":{"type":"layers","diff_ids":%s},"history":%s}' \
		"$arch" "${variant:+\"variant\":\"$variant\",}" "$name" \
		"$(json_list "${diff_ids[@]}")" "$(json_list "${history[@]}")" >"$file.config"
	add_blob "$file.config" "$MT_CONFIG" "$name.config"
	printf '{"schemaVersion":2,"mediaType":"%s","config":%s,"layers":%s}' \
		"$MT_MANIFEST" "${DESC[$name.config]}" "$(json_list "${layers[@]}")" >"$file.manifest"
	add_blob "$file.manifest" "$MT_MANIFEST" "$name"
}

# with_platform NAME ARCH VARIANT: DESC[NAME] with a platform object.
with_platform() {
	printf '%s,"platform":{"architecture":"%s","os":"linux"%s}}' \
		"${DESC[$1]%\}}" "$2" "${3:+,\"variant\":\"$3\"}"
}

# tagged NAME TAG: DESC[NAME] with the layout's tag annotation.
tagged() {
	printf '%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}' "${DESC[$1]%\}}" "$2"
}

build() {
	mkdir -p "$BUILD/blobs/sha256" "$BUILD/tmp"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$BUILD/oci-layout"

	make_layer big podman skopeo libc6
	make_layer base base-files bash debianutils
	make_layer tools grep gzip tar
	make_layer arm findutils diffutils
	make_layer twin-big gcc-12 cpp-12 gcc-13 cpp-13 gcc-14 cpp-14
	make_layer twin-shared sed ncurses-base
	make_layer twin-a login
	make_layer twin-b passwd hostname
	make_layer mini-a dash mawk
	make_layer mini-b bsdutils base-passwd
	make_layer mini-c libc-bin
	make_layer mini-arm sysvinit-utils
	make_layer ctr ncurses-bin init-system-helpers debconf
	for layer in big twin-big; do
		[ "${SIZE[$layer]}" -gt "$MIN_BIG_LAYER" ] ||
			die "layer $layer is only ${SIZE[$layer]} bytes, must be over $MIN_BIG_LAYER"
	done

	make_image v1 amd64 "" big base tools
	make_image arm64 arm64 v8 big base arm
	make_image twin-a amd64 "" twin-big twin-shared twin-a
	make_image twin-b amd64 "" twin-big twin-shared twin-b
	make_image mini amd64 "" mini-a mini-b mini-c
	make_image mini-arm64 arm64 v8 mini-a mini-b mini-arm
	make_image ctr amd64 "" ctr mini-a

	printf '{"schemaVersion":2,"mediaType":"%s","manifests":[%s,%s]}' "$MT_INDEX" \
		"$(with_platform v1 amd64 "")" "$(with_platform arm64 arm64 v8)" >"$BUILD/tmp/multi"
	add_blob "$BUILD/tmp/multi" "$MT_INDEX" multi
	printf '{"schemaVersion":2,"mediaType":"%s","manifests":[%s,%s]}' "$MT_INDEX" \
		"$(with_platform mini amd64 "")" "$(with_platform mini-arm64 arm64 v8)" \
		>"$BUILD/tmp/mini-multi"
	add_blob "$BUILD/tmp/mini-multi" "$MT_INDEX" mini-multi

	printf '{"schemaVersion":2,"manifests":[%s,%s,%s,%s,%s,%s,%s,%s]}' \
		"$(tagged v1 v1)" "$(tagged multi multi)" \
		"$(tagged twin-a twin-a)" "$(tagged twin-b twin-b)" \
		"$(tagged mini mini)" "$(tagged mini-arm64 mini-arm64)" \
		"$(tagged mini-multi mini-multi)" "$(tagged ctr ctr)" >"$BUILD/index.json"
	rm -rf "$BUILD/tmp"
}

if [ ! -f "$LAYOUT/index.json" ]; then
	mkdir -p "$CACHE"
	BUILD=$(mktemp -d "$CACHE/build.XXXXXX")
	trap 'rm -rf "$BUILD"' EXIT
	log "building $LAYOUT"
	build
	chmod -R a+rX "$BUILD"
	# Another run may have finished the same layout meanwhile; either is fine.
	mv -T "$BUILD" "$LAYOUT" 2>/dev/null || rm -rf "$BUILD"
	# Layouts that other versions of this script built, once a day old: a
	# younger one may be in use by a run of another version (another
	# checkout) at this moment.
	find "$CACHE" -mindepth 1 -maxdepth 1 -name 'layout-*' ! -name "${LAYOUT##*/}" \
		-mmin +1440 -exec rm -rf {} +
fi
echo "$LAYOUT"
