#!/usr/bin/python3
"""Reads an OCI image layout for tests/clients/run.sh (standard library only).

  oci.py tree LAYOUT TAG      every blob reachable from TAG, one per line,
                              "<kind> <digest> <size>", depth first in
                              manifest order (kind: index, manifest, config,
                              layer; a blob reached twice is listed once).
                              Each blob's file is checked against its
                              descriptor's size and digest on the way.
  oci.py diff-ids LAYOUT TAG  the rootfs.diff_ids of the image TAG names.

Exits 1 with a message on stderr when the layout is not what it should be.
"""
import hashlib
import json
import os
import sys

INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}


class LayoutError(Exception):
    pass


def blob_path(layout, digest):
    algorithm, _, hex_part = digest.partition(":")
    return os.path.join(layout, "blobs", algorithm, hex_part)


def read_blob(layout, descriptor):
    """The blob's bytes, after checking them against the descriptor."""
    digest = descriptor["digest"]
    algorithm, _, expected = digest.partition(":")
    path = blob_path(layout, digest)
    if not os.path.isfile(path):
        raise LayoutError(f"blob {digest} is missing ({path})")
    h = hashlib.new(algorithm)
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    if h.hexdigest() != expected:
        raise LayoutError(f"blob {digest} has digest {algorithm}:{h.hexdigest()}")
    if size != descriptor["size"]:
        raise LayoutError(f"blob {digest} is {size} bytes, descriptor says {descriptor['size']}")
    with open(path, "rb") as f:
        return f.read() if size < (4 << 20) else b""


def tagged(layout, tag):
    with open(os.path.join(layout, "index.json"), "rb") as f:
        index = json.load(f)
    for descriptor in index.get("manifests", []):
        if descriptor.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return descriptor
    raise LayoutError(f"no tag {tag!r} in {layout}/index.json")


def walk(layout, descriptor, seen, out):
    digest = descriptor["digest"]
    media_type = descriptor.get("mediaType", "")
    if media_type in INDEX_TYPES:
        kind = "index"
    elif media_type in MANIFEST_TYPES:
        kind = "manifest"
    else:
        kind = descriptor.get("_kind", "layer")
    if digest in seen:
        return
    seen.add(digest)
    body = read_blob(layout, descriptor)
    out.append(f"{kind} {digest} {descriptor['size']}")
    if kind == "index":
        for child in json.loads(body)["manifests"]:
            walk(layout, child, seen, out)
    elif kind == "manifest":
        manifest = json.loads(body)
        walk(layout, dict(manifest["config"], _kind="config"), seen, out)
        for layer in manifest["layers"]:
            walk(layout, dict(layer, _kind="layer"), seen, out)


def diff_ids(layout, tag):
    descriptor = tagged(layout, tag)
    if descriptor.get("mediaType") not in MANIFEST_TYPES:
        raise LayoutError(f"tag {tag!r} is not an image manifest")
    manifest = json.loads(read_blob(layout, descriptor))
    config = json.loads(read_blob(layout, manifest["config"]))
    return config["rootfs"]["diff_ids"]


def main(argv):
    if len(argv) != 4 or argv[1] not in ("tree", "diff-ids"):
        print(__doc__, file=sys.stderr)
        return 2
    command, layout, tag = argv[1:]
    try:
        if command == "tree":
            lines = []
            walk(layout, tagged(layout, tag), set(), lines)
        else:
            lines = diff_ids(layout, tag)
    except (LayoutError, OSError, ValueError, KeyError) as e:
        print(f"oci.py {command} {layout} {tag}: {e}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
