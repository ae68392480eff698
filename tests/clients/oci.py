#!/usr/bin/python3
"""Reads an OCI image layout for tests/clients/run.sh (standard library only).

  oci.py tree LAYOUT TAG      every blob reachable from TAG, one per line,
                              "<kind> <digest> <size>", depth first in
                              manifest order (kind: index, manifest, config,
                              layer; a blob reached twice is listed once).
                              Each blob's file is checked against its
                              descriptor's size and digest on the way.
  oci.py diff-ids LAYOUT TAG  the rootfs.diff_ids of the image TAG names.
  oci.py remote [--details] URL REPO REF
                              the same tree, read from the registry at URL
                              (http://host:port) for REPO and REF (a tag or
                              a digest): each manifest's bytes hash to the
                              Docker-Content-Digest the registry sends (and to
                              REF when it is a digest), each blob to its
                              descriptor's digest and size, and each layer,
                              uncompressed, to its rootfs.diff_ids entry.
                              --details adds "platform OS/ARCH[/VARIANT]"
                              after an index's manifest line and "diff-id
                              DIGEST" lines after an image's layers.

Exits 1 with a message on stderr when the layout is not what it should be.
"""
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
import zlib

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


ACCEPT = ", ".join(sorted(INDEX_TYPES | MANIFEST_TYPES))


def fetch(base, repo, kind, reference):
    """GET /v2/REPO/KIND/REFERENCE: (body, headers); raises LayoutError."""
    url = f"{base}/v2/{repo}/{kind}/{reference}"
    request = urllib.request.Request(url, headers={"Accept": ACCEPT})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.read(), response.headers
    except urllib.error.HTTPError as e:
        raise LayoutError(f"GET {url}: {e.code} {e.read()[:200]!r}")
    except urllib.error.URLError as e:
        raise LayoutError(f"GET {url}: {e.reason}")


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def uncompressed_digest(data, media_type):
    """sha256 of the layer's tar: gzip members are inflated one after the
    other; a layer that is no gzip stream must be an uncompressed tar."""
    if not media_type.endswith("gzip"):
        if "zstd" in media_type:
            raise LayoutError(f"cannot check a {media_type} layer")
        return sha256(data)
    h = hashlib.sha256()
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        h.update(d.decompress(data))
        h.update(d.flush())
        if not d.eof:
            raise LayoutError("truncated gzip layer")
        data = d.unused_data
    return "sha256:" + h.hexdigest()


def remote_walk(base, repo, descriptor, seen, out, details):
    """As walk(), for the registry; descriptor is a manifest's."""
    digest = descriptor["digest"]
    if digest in seen:
        return
    seen.add(digest)
    body, headers = fetch(base, repo, "manifests", digest)
    if sha256(body) != digest or len(body) != descriptor["size"]:
        raise LayoutError(f"manifest {digest} came back as {len(body)} bytes hashing to {sha256(body)}")
    if headers.get("Docker-Content-Digest") not in (None, digest):
        raise LayoutError(f"manifest {digest} sent with Docker-Content-Digest {headers['Docker-Content-Digest']}")
    remote_manifest(base, repo, body, digest, seen, out, details)


def remote_manifest(base, repo, body, digest, seen, out, details):
    manifest = json.loads(body)
    media_type = manifest.get("mediaType", "")
    if media_type in INDEX_TYPES or "manifests" in manifest:
        out.append(f"index {digest} {len(body)}")
        for child in manifest["manifests"]:
            if details:
                p = child.get("platform", {})
                variant = f"/{p['variant']}" if p.get("variant") else ""
                out.append(f"platform {p.get('os')}/{p.get('architecture')}{variant}")
            remote_walk(base, repo, child, seen, out, details)
        return
    out.append(f"manifest {digest} {len(body)}")
    config_descriptor = manifest["config"]
    config_body = remote_blob(base, repo, config_descriptor)
    out.append(f"config {config_descriptor['digest']} {config_descriptor['size']}")
    diff_ids = json.loads(config_body)["rootfs"]["diff_ids"]
    if len(diff_ids) != len(manifest["layers"]):
        raise LayoutError(f"manifest {digest}: {len(manifest['layers'])} layers, {len(diff_ids)} diff ids")
    for layer, diff_id in zip(manifest["layers"], diff_ids):
        data = remote_blob(base, repo, layer)
        got = uncompressed_digest(data, layer.get("mediaType", ""))
        if got != diff_id:
            raise LayoutError(f"layer {layer['digest']} uncompressed is {got}, the config says {diff_id}")
        if layer["digest"] not in seen:
            seen.add(layer["digest"])
            out.append(f"layer {layer['digest']} {layer['size']}")
    if details:
        out.extend(f"diff-id {d}" for d in diff_ids)


def remote_blob(base, repo, descriptor):
    body, _ = fetch(base, repo, "blobs", descriptor["digest"])
    if sha256(body) != descriptor["digest"] or len(body) != descriptor["size"]:
        raise LayoutError(f"blob {descriptor['digest']} came back as {len(body)} bytes hashing to {sha256(body)}")
    return body


def remote(base, repo, reference, details):
    body, headers = fetch(base, repo, "manifests", reference)
    digest = sha256(body)
    sent = headers.get("Docker-Content-Digest")
    if sent != digest:
        raise LayoutError(f"manifest {reference}: Docker-Content-Digest {sent}, its bytes hash to {digest}")
    if reference.startswith("sha256:") and reference != digest:
        raise LayoutError(f"manifest {reference}: its bytes hash to {digest}")
    lines = []
    remote_manifest(base, repo, body, digest, {digest}, lines, details)
    return lines


def main(argv):
    if len(argv) >= 5 and argv[1] == "remote":
        details = argv[2] == "--details"
        args = argv[3:] if details else argv[2:]
        if len(args) == 3:
            try:
                print("\n".join(remote(*args, details)))
                return 0
            except (LayoutError, OSError, ValueError, KeyError, zlib.error) as e:
                print(f"oci.py remote {' '.join(args)}: {e}", file=sys.stderr)
                return 1
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
