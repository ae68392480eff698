"""tests/auth/auth.py -- berth's access control over HTTP, in one web server
shape (tests/auth/run.sh starts the registry and sets the environment).

Checks the Docker token flow exactly (challenge, token endpoint GET and
POST, the token's claims), Basic credentials on /v2/ endpoints, the grant
model (401 vs 403 vs the missing-repository 404, catalog filtering,
mounts), CI tokens (revocation), deleted users, the sign-in back-off, and
hostile tokens and scopes: a changed payload or signature, alg none,
HS256 signed with the public key, expired, another audience or issuer, a
refresh token used as an access token, a scope for one repository used
on another, scopes with "..", encoded slashes or overlong names.  Forged
tokens are signed with the registry's own key through the openssl
command, so only the property under test is wrong.

Environment: BERTH_URL, BERTH_DATA_DIR, BERTH (the binary, for the
operator commands), BERTH_CONFIG, PW_* (passwords), CI_SECRET.  Prints
"ok - NAME" / "not ok - NAME: why" and "N passed, N failed" last.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse

URL = urllib.parse.urlsplit(os.environ["BERTH_URL"])
DATA = os.environ["BERTH_DATA_DIR"]
BERTH = os.environ["BERTH"]
CONFIG = os.environ["BERTH_CONFIG"]
PW = {u: os.environ["PW_" + u.upper()] for u in ("root", "alice", "bob")}
CI_SECRET = os.environ["CI_SECRET"]
SERVICE = "berth"
REALM = "http://%s/v2/token" % URL.netloc

passed = 0
failed = 0


def check(name, fn):
    global passed, failed
    try:
        fn()
    except AssertionError as e:
        failed += 1
        print("not ok - %s: %s" % (name, e))
        return
    except Exception as e:  # a crash of the check is a failure too
        failed += 1
        print("not ok - %s: %s: %s" % (name, type(e).__name__, e))
        return
    passed += 1
    print("ok - %s" % name)


def eq(got, want, what=""):
    assert got == want, "%s: got %r, want %r" % (what, got, want)


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)

    def code(self):
        try:
            return self.json()["errors"][0]["code"]
        except Exception:
            return None


def req(method, path, body=None, headers=None, token=None, basic=None):
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    if basic is not None:
        h["Authorization"] = "Basic " + base64.b64encode(
            ("%s:%s" % basic).encode()).decode()
    c = http.client.HTTPConnection(URL.hostname, URL.port, timeout=60)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    out = Resp(r.status, r.getheaders(), r.read())
    c.close()
    return out


def token(scopes, basic=None, extra=""):
    q = "service=" + SERVICE + "".join(
        "&scope=" + urllib.parse.quote(s, safe=":/,") for s in scopes) + extra
    r = req("GET", "/v2/token?" + q, basic=basic)
    eq(r.status, 200, "token endpoint status (%s)" % r.body[:200])
    return r.json()


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def claims(tok):
    return json.loads(unb64u(tok.split(".")[1]))


def header_of(tok):
    return json.loads(unb64u(tok.split(".")[0]))


def key_file():
    keys = sorted(f for f in os.listdir(os.path.join(DATA, "keys"))
                  if f.endswith(".pem"))
    assert keys, "no signing key in the data directory"
    return os.path.join(DATA, "keys", keys[-1])


def ed25519_sign(data, key):
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        return subprocess.run(
            ["openssl", "pkeyutl", "-sign", "-inkey", key, "-rawin", "-in",
             f.name], check=True, capture_output=True).stdout


def forge(hdr, cl, key=None):
    """A token with header hdr and claims cl, signed with key (default: the
    registry's own)."""
    si = b64u(json.dumps(hdr).encode()) + "." + b64u(json.dumps(cl).encode())
    return si + "." + b64u(ed25519_sign(si.encode(), key or key_file()))


def good_claims(sub, name, actions, **over):
    now = int(time.time())
    c = {"iss": "berth", "sub": sub, "aud": SERVICE, "exp": now + 60,
         "nbf": now, "iat": now, "jti": "00" * 16,
         "access": [{"type": "repository", "name": name,
                     "actions": actions}]}
    c.update(over)
    return c


def kid():
    return os.path.basename(key_file())[11:27]


def berth(*args, stdin=None):
    # As the user the registry runs as (www-data for Apache CGI), so that
    # what the command creates stays readable by the registry.
    pre = os.environ.get("BERTH_CLI_AS", "").split()
    return subprocess.run(pre + [BERTH, "-c", CONFIG] + list(args), input=stdin,
                          capture_output=True, text=True,
                          env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))


def sha256(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def push_image(repo, tag, auth):
    """Push a one-layer image (config + layer) with monolithic uploads;
    auth is {"token": t} or {"basic": (u, p)}.  Returns the manifest
    digest; asserts every status."""
    layer = ("layer of %s %s %f" % (repo, tag, time.time())).encode()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    for blob in (layer, config):
        r = req("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, sha256(blob)),
                body=blob, headers={"Content-Type": "application/octet-stream"},
                **auth)
        eq(r.status, 201, "blob push to %s (%s)" % (repo, r.body[:200]))
    m = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": sha256(layer), "size": len(layer)}]}).encode()
    r = req("PUT", "/v2/%s/manifests/%s" % (repo, tag), body=m,
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
            **auth)
    eq(r.status, 201, "manifest push to %s (%s)" % (repo, r.body[:200]))
    return sha256(m), sha256(layer)


ROOT = {"basic": ("root", PW["root"])}
ALICE = {"basic": ("alice", PW["alice"])}
BOB = {"basic": ("bob", PW["bob"])}
STATE = {}


def t_probe():
    r = req("GET", "/v2/")
    eq(r.status, 401, "GET /v2/ without credentials")
    eq(r.header("WWW-Authenticate"),
       'Bearer realm="%s",service="%s"' % (REALM, SERVICE), "challenge")
    eq(r.code(), "UNAUTHORIZED", "code")


def t_seed():
    STATE["team"] = push_image("team/app", "v1", ROOT)
    STATE["pub"] = push_image("pub/tool", "v1", ROOT)
    STATE["secret"] = push_image("secret/db", "v1", ROOT)


def t_anonymous_token():
    t = token(["repository:pub/tool:pull"])
    for k in ("token", "access_token", "expires_in", "issued_at"):
        assert k in t, "no %s in %r" % (k, sorted(t))
    eq(t["token"], t["access_token"], "token == access_token")
    eq(t["expires_in"], 60, "expires_in ([auth] token_lifetime)")
    assert "refresh_token" not in t, "anonymous callers get no refresh token"
    h, c = header_of(t["token"]), claims(t["token"])
    eq(h["alg"], "EdDSA", "alg")
    eq(h["kid"], kid(), "kid")
    eq(c["sub"], "", "sub")
    eq(c["aud"], SERVICE, "aud")
    eq(c["iss"], "berth", "iss")
    eq(c["access"], [{"type": "repository", "name": "pub/tool",
                      "actions": ["pull"], "berth_asked": ["pull"]}], "access")
    assert c["exp"] - c["iat"] == 60 and c["nbf"] == c["iat"], c
    r = req("GET", "/v2/pub/tool/manifests/v1", token=t["token"],
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    eq(r.status, 200, "anonymous pull where granted")
    eq(r.header("Docker-Content-Digest"), STATE["pub"][0], "digest")
    r = req("GET", "/v2/", token=t["token"])
    eq(r.status, 200, "GET /v2/ with a token")


def t_anonymous_push_refused():
    t = token(["repository:pub/tool:pull,push"])
    eq(claims(t["token"])["access"][0]["actions"], ["pull"],
       "anonymous push not granted")
    r = req("POST", "/v2/pub/tool/blobs/uploads/", token=t["token"])
    eq(r.status, 401, "anonymous push")
    eq(r.header("WWW-Authenticate"),
       'Bearer realm="%s",service="%s",scope="repository:pub/tool:pull,push",'
       'error="insufficient_scope"' % (REALM, SERVICE), "challenge")


def t_no_token_scope_challenge():
    r = req("GET", "/v2/team/app/manifests/v1")
    eq(r.status, 401, "pull without credentials")
    eq(r.header("WWW-Authenticate"),
       'Bearer realm="%s",service="%s",scope="repository:team/app:pull"'
       % (REALM, SERVICE), "challenge")
    r = req("DELETE", "/v2/team/app/manifests/" + STATE["team"][0])
    eq(r.status, 401, "delete without credentials")
    assert 'scope="repository:team/app:delete"' in r.header("WWW-Authenticate")


def t_login_token_and_refresh():
    t = token(["repository:team/app:pull,push"], basic=("alice", PW["alice"]),
              extra="&offline_token=true&client_id=test")
    c = claims(t["token"])
    eq(c["sub"], "alice", "sub")
    eq(c["access"][0]["actions"], ["pull", "push"], "alice's actions")
    assert "refresh_token" in t, "offline_token=true gives a refresh token"
    STATE["alice_refresh"] = t["refresh_token"]
    r = req("GET", "/v2/team/app/tags/list", token=t["token"])
    eq(r.status, 200, "tags with alice's token")
    eq(r.json()["tags"], ["v1"], "tags")


def t_post_forms():
    body = urllib.parse.urlencode({
        "grant_type": "password", "username": "bob", "password": PW["bob"],
        "service": SERVICE, "client_id": "containerd",
        "scope": "repository:team/app:pull repository:pub/tool:pull"})
    r = req("POST", "/v2/token", body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"})
    eq(r.status, 200, "POST password grant (%s)" % r.body[:200])
    t = r.json()
    assert t.get("access_token") and t.get("refresh_token"), sorted(t)
    eq([a["name"] for a in claims(t["access_token"])["access"]],
       ["team/app", "pub/tool"], "space-separated scopes")
    body = urllib.parse.urlencode({
        "grant_type": "refresh_token", "refresh_token": t["refresh_token"],
        "service": SERVICE, "client_id": "containerd",
        "scope": "repository:team/app:pull"})
    r = req("POST", "/v2/token", body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"})
    eq(r.status, 200, "POST refresh grant")
    eq(claims(r.json()["access_token"])["sub"], "bob", "refreshed sub")
    r = req("POST", "/v2/token", body="grant_type=client_credentials",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
    eq(r.status, 400, "unknown grant type")
    r = req("POST", "/v2/token", body=urllib.parse.urlencode({
        "grant_type": "password", "username": "bob", "password": "wrong"}),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    eq(r.status, 401, "POST with a wrong password")


def t_basic_direct():
    eq(req("GET", "/v2/", **ALICE).status, 200, "Basic on /v2/")
    r = req("GET", "/v2/", basic=("alice", "not-it"))
    eq(r.status, 401, "wrong password on /v2/")
    eq(r.code(), "UNAUTHORIZED", "code")
    r = req("GET", "/v2/team/app/manifests/v1", **BOB,
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    eq(r.status, 200, "bob pulls team/app with Basic")


def t_denied_vs_hidden():
    r = req("POST", "/v2/team/app/blobs/uploads/", **BOB)
    eq(r.status, 403, "bob's push where he may pull")
    eq(r.code(), "DENIED", "code")
    r = req("PUT", "/v2/team/app/manifests/v2", body=b"{}", **BOB,
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    eq(r.status, 403, "a tag push is push")
    r = req("GET", "/v2/secret/db/manifests/v1", **BOB)
    eq(r.status, 404, "bob reads a repository he may not see")
    eq(r.code(), "MANIFEST_UNKNOWN", "as for a missing repository")
    missing = req("GET", "/v2/nothing/here/manifests/v1", **ROOT)
    eq(missing.status, 404, "a really missing repository")
    eq(r.body, missing.body, "the same body as a missing repository")
    r = req("GET", "/v2/secret/db/blobs/" + STATE["secret"][1], **BOB)
    eq(r.status, 404, "hidden blob")
    eq(r.code(), "BLOB_UNKNOWN", "hidden blob code")
    r = req("GET", "/v2/secret/db/tags/list", **BOB)
    eq((r.status, r.code()), (404, "NAME_UNKNOWN"), "hidden tags")
    r = req("DELETE", "/v2/secret/db/manifests/" + STATE["secret"][0], **BOB)
    eq((r.status, r.code()), (403, "DENIED"), "a write where he may not see")
    t = token(["repository:secret/db:pull"], basic=("bob", PW["bob"]))
    eq(claims(t["token"])["access"][0]["actions"], [], "nothing granted")
    r = req("GET", "/v2/secret/db/manifests/v1", token=t["token"])
    eq((r.status, r.code()), (404, "MANIFEST_UNKNOWN"), "with a token")


def t_catalog():
    r = req("GET", "/v2/_catalog")
    eq(r.status, 401, "catalog without credentials")
    assert 'scope="registry:catalog:*"' in r.header("WWW-Authenticate")
    eq(req("GET", "/v2/_catalog", **BOB).json()["repositories"],
       ["pub/tool", "team/app"], "bob's catalog")
    eq(req("GET", "/v2/_catalog", **ROOT).json()["repositories"],
       ["pub/tool", "secret/db", "team/app"], "root's catalog")
    t = token(["registry:catalog:*"], basic=("bob", PW["bob"]))
    eq(req("GET", "/v2/_catalog", token=t["token"]).json()["repositories"],
       ["pub/tool", "team/app"], "bob's catalog with a token")
    # Pages of n names the caller may pull: secret/db, between bob's two,
    # is read past, not answered as a short or empty page.
    r = req("GET", "/v2/_catalog?n=1&last=pub/tool", **BOB)
    eq((r.status, r.json()["repositories"]), (200, ["team/app"]),
       "bob's page after pub/tool skips secret/db")
    eq(r.header("Link"), None, "and is the last page")
    r = req("GET", "/v2/_catalog?n=1", **BOB)
    eq((r.json()["repositories"], r.header("Link")),
       (["pub/tool"], '</v2/_catalog?last=pub/tool&n=1>; rel="next"'), "bob's first page of 1")
    r = req("GET", "/v2/_catalog?n=1", **ROOT)
    r2 = req("GET", "/v2/_catalog?n=2&last=pub/tool", **ROOT)
    eq((r.json()["repositories"], r2.json()["repositories"], r2.header("Link")),
       (["pub/tool"], ["secret/db", "team/app"], None), "root's pages are the plain ones")
    r = req("GET", "/v2/_catalog?n=1&last=pub/tool", basic=("alice", PW["alice"]))
    eq((r.status, r.json()["repositories"]), (200, ["team/app"]), "alice's too")


def t_mount():
    layer = STATE["secret"][1]
    r = req("POST", "/v2/team/new/blobs/uploads/?mount=%s&from=secret/db"
            % layer, **ALICE)
    eq(r.status, 202, "mount from a repository alice may not pull: an upload")
    layer = STATE["team"][1]
    r = req("POST", "/v2/team/new/blobs/uploads/?mount=%s&from=team/app"
            % layer, **ALICE)
    eq(r.status, 201, "mount from team/app")


def t_audit_user():
    push_image("team/audited", "v1", ALICE)
    out = berth("audit", "team/audited", "--json")
    eq(out.returncode, 0, "berth audit: " + out.stderr)
    rows = json.loads(out.stdout)
    assert rows, "no audit rows"
    eq(sorted({r["user"] for r in rows}), ["alice"], "who")
    eq(sorted({r["action"] for r in rows}),
       ["blob.link", "manifest.push", "tag.push"], "actions")


def t_ci_token():
    t = token(["repository:team/ci/app:pull,push", "repository:team/app:push"],
              basic=("ci", CI_SECRET))
    c = claims(t["token"])
    eq(c["sub"], "ci", "sub")
    eq(c["access"], [
        {"type": "repository", "name": "team/ci/app", "actions": ["pull", "push"],
         "berth_asked": ["pull", "push"]},
        {"type": "repository", "name": "team/app", "actions": [],
         "berth_asked": ["push"]}], "scope only")
    push_image("team/ci/app", "v1", {"token": t["token"]})
    r = req("POST", "/v2/team/app/blobs/uploads/", token=t["token"])
    eq((r.status, r.code()), (403, "DENIED"), "outside the CI token's scope")
    eq(req("GET", "/v2/", basic=("ci", CI_SECRET)).status, 200,
       "the CI secret as a Basic password")
    eq(req("GET", "/v2/", basic=("bob", CI_SECRET)).status, 401,
       "the CI secret under another name")
    out = berth("token", "revoke", "ci")
    eq(out.returncode, 0, out.stderr)
    out = berth("token", "list")
    row = [l.split() for l in out.stdout.splitlines() if l.split()[:1] == ["ci"]]
    eq((out.returncode, [r[-1] for r in row]), (0, ["yes"]),
       "berth token list: REVOKED says yes")
    out = berth("grant", "ci", "team/x/**", "pull")
    eq((out.returncode, "no user or CI token is called ci" in out.stderr), (0, True),
       "berth grant to a revoked CI token succeeds with a note: " + out.stderr)
    out = berth("grant", "nosuch-user", "team/x/**", "pull")
    eq((out.returncode, out.stderr.startswith("berth grant: note: no user or CI token "
                                              "is called nosuch-user yet")),
       (0, True), "berth grant to no one yet: a note on stderr")
    out = berth("grant", "alice", "team/x/**", "pull")
    eq((out.returncode, out.stderr), (0, ""), "berth grant to a user: no note")
    for who in ("ci", "nosuch-user", "alice"):
        eq(berth("revoke", who, "team/x/**").returncode, 0, "revoke " + who)
    r = req("GET", "/v2/token?service=berth", basic=("ci", CI_SECRET))
    eq(r.status, 401, "sign-in with a revoked CI token")
    eq(req("GET", "/v2/", basic=("ci", CI_SECRET)).status, 401,
       "Basic with a revoked CI token")
    # Documented: a signed token already issued lives to its expiry.
    r = req("GET", "/v2/team/ci/app/tags/list", token=t["token"])
    eq(r.status, 200, "a token issued before the revocation, until exp")


def t_deleted_user():
    out = berth("user", "add", "carol", stdin="carol-pw\n")
    eq(out.returncode, 0, out.stderr)
    t = token([], basic=("carol", "carol-pw"), extra="&offline_token=true")
    out = berth("user", "del", "carol")
    eq(out.returncode, 0, out.stderr)
    r = req("GET", "/v2/token?service=berth", basic=("carol", "carol-pw"))
    eq(r.status, 401, "sign-in of a deleted user")
    r = req("POST", "/v2/token", body=urllib.parse.urlencode({
        "grant_type": "refresh_token", "refresh_token": t["refresh_token"],
        "service": SERVICE}),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    eq(r.status, 401, "a deleted user's refresh token")
    eq(req("GET", "/v2/", token=t["token"]).status, 200,
       "its access token lives to exp (documented)")

    # Passwords up to crypt(3)'s 511 bytes; longer ones refused when set
    # and never matching at sign-in (no hash computed for them).
    pw511 = "p" * 511
    out = berth("user", "add", "erin", stdin=pw511 + "\n")
    eq(out.returncode, 0, "a 511-byte password is taken: " + out.stderr)
    eq(req("GET", "/v2/", basic=("erin", pw511)).status, 200, "and signs in")
    out = berth("user", "add", "frank", stdin="p" * 512 + "\n")
    eq((out.returncode, "at most 511 bytes" in out.stderr), (1, True),
       "a 512-byte password is refused: " + out.stderr)
    eq(req("GET", "/v2/", basic=("erin", pw511 + "x")).status, 401,
       "a 512-byte password at sign-in: 401")
    eq(req("GET", "/v2/", basic=("erin", "p" * 1090)).status, 401,
       "a 1090-byte password at sign-in: 401")
    eq(berth("user", "del", "erin").returncode, 0, "erin deleted")


def t_refresh_after_new_credentials():
    def refresh(rt):
        return req("POST", "/v2/token", body=urllib.parse.urlencode({
            "grant_type": "refresh_token", "refresh_token": rt, "service": SERVICE}),
            headers={"Content-Type": "application/x-www-form-urlencoded"})

    eq(berth("user", "add", "gina", stdin="gina-pw-1\n").returncode, 0, "gina added")
    rt = token([], basic=("gina", "gina-pw-1"), extra="&offline_token=true")["refresh_token"]
    eq(len(claims(rt).get("berth_cred", "")), 16,
       "a refresh token names its credential (16 hex digits)")
    eq(refresh(rt).status, 200, "the refresh token works")
    eq(berth("user", "passwd", "gina", stdin="gina-pw-2\n").returncode, 0, "gina's new password")
    eq(refresh(rt).status, 401, "a new password ends the old refresh tokens")
    rt2 = token([], basic=("gina", "gina-pw-2"), extra="&offline_token=true")["refresh_token"]
    eq(refresh(rt2).status, 200, "one issued after it works")
    eq(berth("user", "del", "gina").returncode, 0, "gina deleted")
    eq(berth("user", "add", "gina", stdin="gina-pw-2\n").returncode, 0,
       "a new gina, with the same password")
    eq(refresh(rt2).status, 401, "the old gina's refresh token is not the new gina's")
    tampered = rt2.split(".")
    c = claims(rt2)
    c["berth_cred"] = "0" * 16
    tampered[1] = b64u(json.dumps(c).encode())
    eq(refresh(".".join(tampered)).status, 401, "a rewritten berth_cred breaks the signature")
    eq(berth("user", "del", "gina").returncode, 0, "gina deleted again")


def refused(tok, what):
    r = req("GET", "/v2/team/app/manifests/v1", token=tok)
    eq(r.status, 401, what)
    eq(r.code(), "UNAUTHORIZED", what + ": code")
    assert 'error="invalid_token"' in (r.header("WWW-Authenticate") or ""), \
        what + ": challenge " + repr(r.header("WWW-Authenticate"))


def t_hostile_tokens():
    good = forge({"alg": "EdDSA", "typ": "JWT", "kid": kid()},
                 good_claims("alice", "team/app", ["pull"]))
    eq(req("GET", "/v2/team/app/manifests/v1", token=good).status, 200,
       "a token forged with the real key works (the harness is right)")
    h, p, s = good.split(".")
    c = claims(good)
    c["sub"] = "root"
    c["access"][0]["name"] = "secret/db"
    refused(h + "." + b64u(json.dumps(c).encode()) + "." + s, "changed payload")
    sig = bytearray(unb64u(s))
    sig[10] ^= 1
    refused(h + "." + p + "." + b64u(bytes(sig)), "changed signature")
    refused(h + "." + p + ".", "no signature")
    refused(b64u(b'{"alg":"none","typ":"JWT"}') + "." + p + ".", "alg none")
    refused(b64u(json.dumps({"alg": "none", "kid": kid()}).encode()) + "." + p
            + "." + s, "alg none with the real signature")
    pub = subprocess.run(["openssl", "pkey", "-in", key_file(), "-pubout"],
                         check=True, capture_output=True).stdout
    hs = b64u(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid()}).encode())
    si = (hs + "." + p).encode()
    refused(hs + "." + p + "." + b64u(hmac.new(pub, si, hashlib.sha256).digest()),
            "HS256 with the public key as the secret")
    now = int(time.time())
    refused(forge({"alg": "EdDSA", "kid": kid()},
                  good_claims("alice", "team/app", ["pull"], exp=now - 1)),
            "expired")
    refused(forge({"alg": "EdDSA", "kid": kid()},
                  good_claims("alice", "team/app", ["pull"], nbf=now + 3600)),
            "not yet valid")
    refused(forge({"alg": "EdDSA", "kid": kid()},
                  good_claims("alice", "team/app", ["pull"], aud="other")),
            "another audience")
    refused(forge({"alg": "EdDSA", "kid": kid()},
                  good_claims("alice", "team/app", ["pull"], iss="evil")),
            "another issuer")
    with tempfile.TemporaryDirectory() as d:
        other = os.path.join(d, "k.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out",
                        other], check=True, capture_output=True)
        refused(forge({"alg": "EdDSA", "kid": kid()},
                      good_claims("alice", "team/app", ["pull"]), key=other),
                "signed with another key under our kid")
        refused(forge({"alg": "EdDSA", "kid": "0123456789abcdef"},
                      good_claims("alice", "team/app", ["pull"]), key=other),
                "an unknown kid")
    refused(STATE["alice_refresh"], "a refresh token as an access token")
    refused("not.a-token", "garbage")
    refused("a" * 5000, "garbage, long")


def t_ask_again_vs_refused():
    t = token(["repository:team/app:pull"], basic=("alice", PW["alice"]))
    r = req("POST", "/v2/team/app/blobs/uploads/", token=t["token"])
    eq(r.status, 401, "a pull token used to push: ask again")
    eq(r.header("WWW-Authenticate"),
       'Bearer realm="%s",service="%s",scope="repository:team/app:pull,push",'
       'error="insufficient_scope"' % (REALM, SERVICE), "challenge")
    t = token(["repository:team/app:pull", "repository:team/app:pull,push"],
              basic=("bob", PW["bob"]))
    eq(claims(t["token"])["access"], [
        {"type": "repository", "name": "team/app", "actions": ["pull"],
         "berth_asked": ["pull", "push"]}], "one entry per repository")
    r = req("POST", "/v2/team/app/blobs/uploads/", token=t["token"])
    eq((r.status, r.code()), (403, "DENIED"), "push asked for and refused")


def t_scope_for_a_on_b():
    t = token(["repository:pub/tool:pull"], basic=("alice", PW["alice"]))
    r = req("GET", "/v2/team/app/manifests/v1", token=t["token"])
    eq(r.status, 401, "a token for pub/tool used on team/app")
    eq(r.header("WWW-Authenticate"),
       'Bearer realm="%s",service="%s",scope="repository:team/app:pull",'
       'error="insufficient_scope"' % (REALM, SERVICE), "challenge")


def t_hostile_scopes():
    for scope in ("repository:../etc:pull", "repository:team/../secret/db:pull",
                  # The query's own encoding is undone once: what reaches
                  # the scope grammar is team%2Fapp, never a slash.
                  "repository:team%252Fapp:pull",
                  "repository:" + "a" * 300 + ":pull",
                  "repository:team/app:pull,admin", "repository:TEAM/app:pull",
                  "blob:team/app:pull", "repository:team/app"):
        q = "service=berth&scope=" + urllib.parse.quote(scope, safe=":/,%")
        r = req("GET", "/v2/token?" + q, basic=("alice", PW["alice"]))
        eq(r.status, 400, "scope %r" % scope[:60])
    r = req("GET", "/v2/token?service=other&scope=repository:team/app:pull")
    eq(r.status, 400, "another service")


def t_backoff():
    out = berth("user", "add", "dave", stdin="dave-pw\n")
    eq(out.returncode, 0, out.stderr)
    for i in range(5):
        r = req("GET", "/v2/token?service=berth", basic=("dave", "wrong%d" % i))
        eq(r.status, 401, "failure %d" % (i + 1))
    r = req("GET", "/v2/token?service=berth", basic=("dave", "dave-pw"))
    eq(r.status, 401, "the right password during the back-off")
    assert b"too many failed sign-ins" in r.body, r.body
    eq(req("GET", "/v2/", basic=("alice", PW["alice"])).status, 200,
       "another user is not slowed down")
    time.sleep(4.5)
    eq(req("GET", "/v2/token?service=berth", basic=("dave", "dave-pw")).status,
       200, "after the back-off")


def t_key_rotate():
    before = token(["repository:team/app:pull"], basic=("bob", PW["bob"]))
    out = berth("key", "rotate")
    eq(out.returncode, 0, out.stderr)
    after = token(["repository:team/app:pull"], basic=("bob", PW["bob"]))
    assert header_of(after["token"])["kid"] != header_of(before["token"])["kid"], \
        "the new key signs"
    for t in (before, after):
        eq(req("GET", "/v2/team/app/tags/list", token=t["token"]).status, 200,
           "old and new tokens verify")


for name, fn in [
        ("GET /v2/ answers 401 with the Bearer challenge", t_probe),
        ("seed with root's Basic credentials", t_seed),
        ("anonymous token: claims, pull where granted", t_anonymous_token),
        ("anonymous push refused with insufficient_scope", t_anonymous_push_refused),
        ("no credentials: 401 with the needed scope", t_no_token_scope_challenge),
        ("login token, refresh token", t_login_token_and_refresh),
        ("POST forms: password and refresh_token grants", t_post_forms),
        ("Basic credentials directly on /v2/ endpoints", t_basic_direct),
        ("403 DENIED vs the missing-repository 404", t_denied_vs_hidden),
        ("catalog lists what the caller may pull", t_catalog),
        ("mount needs pull on from", t_mount),
        ("audit trail names who", t_audit_user),
        ("CI token: scope, Basic, revocation", t_ci_token),
        ("deleted user", t_deleted_user),
        ("refresh tokens end with a new password or a new user", t_refresh_after_new_credentials),
        ("hostile tokens", t_hostile_tokens),
        ("a scope for a used on b", t_scope_for_a_on_b),
        ("a token that did not ask: 401; asked and refused: 403",
         t_ask_again_vs_refused),
        ("hostile scopes at the token endpoint", t_hostile_scopes),
        ("failed sign-ins are slowed down per user", t_backoff),
        ("key rotation keeps the old key verifying", t_key_rotate),
]:
    check(name, fn)

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
