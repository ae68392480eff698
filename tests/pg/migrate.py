"""migrate.py -- `berth migrate --from sqlite:PATH --to postgresql:DSN`, end
to end: a registry on SQLite filled through the API (tests/ops' fill),
migrated into a fresh PostgreSQL schema; then the same data directory
served with [metadata] backend = postgresql: every tag pulls intact, and
the operator commands (repos, tags, du, audit, show, fsck, user/token/
grant list) answer exactly what they answered on SQLite, and the users,
CI tokens and grants arrived byte for byte, password and secret hashes
included.  A second migration into the same schema is
refused, changing nothing; a bad source is refused.

Env: BERTH, BERTH_TEST_PG_DSN.  Prints "N passed, N failed" last.
"""
import json
import os
import shutil
import subprocess
import sys

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "ops"))
os.environ.pop("OPS_PG_DSN", None)
import berthtest  # noqa: E402
import ops  # noqa: E402

DSN = os.environ.get("BERTH_TEST_PG_DSN", "")
check = berthtest.check


def cli(env, cfg, *args):
    r = subprocess.run([ops.BERTH, "-c", cfg] + list(args) + ["--json"], env=env,
                       capture_output=True, text=True, timeout=300)
    try:
        return r.returncode, json.loads(r.stdout), r.stderr
    except ValueError:
        return r.returncode, None, r.stderr + r.stdout


def answers(e, cfg):
    """What the operator commands say about the registry."""
    env = dict(e.env)
    env.pop("BERTH_CONFIG", None)
    out = {}
    for args in (("repos",), ("tags", "ops/alpha"), ("tags", "ops/beta"), ("du",),
                 ("audit", "--limit", "1000"), ("show", "ops/alpha:1.0"),
                 ("uploads",), ("user", "list"), ("token", "list"), ("grant",)):
        rc, r, err = cli(env, cfg, *args)
        out[" ".join(args)] = (rc, r, err if rc else "")
    return out


def main():
    if not DSN or not os.access(ops.BERTH, os.X_OK):
        print("migrate: needs BERTH and BERTH_TEST_PG_DSN")
        print("0 passed, 1 failed")
        return 1
    e = ops.Env()
    e.start()
    try:
        f = ops.fill(e)
    finally:
        e.stop()
    schema = "mig_" + os.urandom(4).hex()
    sq_cfg = e.data + ".sqlite.ini"
    pg_cfg = e.data + ".pg.ini"
    with open(sq_cfg, "w") as fh:
        fh.write("[storage]\ndata_dir = %s\n" % e.data)
    with open(pg_cfg, "w") as fh:
        fh.write("[storage]\ndata_dir = %s\n[metadata]\nbackend = postgresql\n"
                 "[metadata.postgresql]\ndsn = %s\nschema = %s\n" % (e.data, DSN, schema))
    # Identities on SQLite (sql/003_auth.sql), written by the CLI.
    env = dict(e.env)
    env.pop("BERTH_CONFIG", None)
    for args, stdin in ((("user", "add", "mig-alice"), "pw-alice\n"),
                        (("user", "add", "mig-bob"), "pw-bob\n"),
                        (("grant", "mig-alice", "ops/**", "pull,push"), ""),
                        (("grant", "anonymous", "pub/*", "none"), ""),
                        (("token", "add", "mig-ci", "--scope", "ops/*:pull"), ""),
                        (("token", "add", "mig-old", "--scope", "ops/*:pull",
                          "--expires", "1h"), ""),
                        (("token", "revoke", "mig-old"), "")):
        r = subprocess.run([ops.BERTH, "-c", sq_cfg] + list(args), env=env, input=stdin,
                           capture_output=True, text=True, timeout=60)
        check("migrate: setup `berth %s` on SQLite" % " ".join(args), r.returncode == 0,
              r.stderr)
    sq_ident = {t: e.sql("SELECT * FROM %s ORDER BY 1, 2" % t) for t in
                ("users", "ci_tokens", "grants")}
    before = answers(e, sq_cfg)
    counts = {t: e.sql("SELECT count(*) FROM %s" % t)[0][0] for t in
              ("repositories", "blobs", "blob_links", "manifests", "manifest_references",
               "tags", "uploads", "users", "ci_tokens", "grants", "audit")}
    check("migrate: the identities to move (2 users, 2 tokens, 2 grants)",
          (counts["users"], counts["ci_tokens"], counts["grants"]) == (2, 2, 2), counts)

    r = subprocess.run([ops.BERTH, "migrate", "--from", "sqlite:%s/berth.db" % e.data,
                        "--to", "postgresql:" + DSN, "--schema", schema, "--json"],
                       capture_output=True, text=True, timeout=300)
    try:
        rep = json.loads(r.stdout)
    except ValueError:
        rep = None
    check("migrate: exit 0", r.returncode == 0 and rep is not None, r.stderr)
    check("migrate: every table's row count as in SQLite",
          rep is not None and rep["tables"] == counts, (rep, counts))
    check("migrate: the dsn is not printed", DSN not in r.stdout + r.stderr)
    check("migrate: blob bytes as in SQLite", rep is not None and rep["blob_bytes"] ==
          e.sql("SELECT sum(size) FROM blobs")[0][0], rep)

    r = subprocess.run([ops.BERTH, "migrate", "--from", "sqlite:%s/berth.db" % e.data,
                        "--to", "postgresql:" + DSN, "--schema", schema],
                       capture_output=True, text=True, timeout=300)
    check("migrate: into a schema that is not empty: refused",
          r.returncode == 1 and "not empty" in r.stderr, r.stderr)
    r = subprocess.run([ops.BERTH, "migrate", "--from", "sqlite:/nonexistent/berth.db",
                        "--to", "postgresql:" + DSN, "--schema", schema + "_x"],
                       capture_output=True, text=True, timeout=300)
    check("migrate: a missing source: refused", r.returncode == 1, r.stderr)
    r = subprocess.run([ops.BERTH, "migrate", "--to", "postgresql:" + DSN],
                       capture_output=True, text=True, timeout=300)
    check("migrate: --from is required (usage error)", r.returncode == 2, r.stderr)

    # An operator command on a schema without berth's tables is refused,
    # creating nothing, as a directory without berth.db is.
    none_cfg = e.data + ".none.ini"
    with open(none_cfg, "w") as fh:
        fh.write("[storage]\ndata_dir = %s\n[metadata]\nbackend = postgresql\n"
                 "[metadata.postgresql]\ndsn = %s\nschema = %s_none\n" % (e.data, DSN, schema))
    r = subprocess.run([ops.BERTH, "-c", none_cfg, "repos"], capture_output=True, text=True)
    made = subprocess.run(["psql", "-X", "-A", "-t", DSN, "-c",
                           "SELECT count(*) FROM pg_namespace WHERE nspname = '%s_none'" % schema],
                          capture_output=True, text=True).stdout.strip()
    check("migrate: a schema without a registry is refused, nothing created",
          r.returncode == 1 and "no registry database" in r.stderr and made == "0",
          (r.stderr, made))

    for t in ("users", "ci_tokens", "grants"):
        out = subprocess.run(["psql", "-X", "-A", "-t", "-F", "\t", "-P", "null=<null>", DSN, "-c",
                              "SET search_path = %s; SELECT * FROM %s ORDER BY 1, 2"
                              % (schema, t)], capture_output=True, text=True).stdout
        pg_rows = [tuple(None if v == "<null>" else (int(v) if v.lstrip("-").isdigit() else v)
                         for v in line.split("\t"))
                   for line in out.splitlines() if line and line != "SET"]
        check("migrate: %s rows byte for byte as in SQLite (hashes included)" % t,
              pg_rows == [tuple(r) for r in sq_ident[t]], (pg_rows, sq_ident[t]))

    after = answers(e, pg_cfg)
    for k in before:
        check("migrate: `berth %s` answers the same on PostgreSQL" % k,
              before[k] == after[k], (before[k], after[k]))
    # The same data directory served on PostgreSQL.
    e.env["BERTH_CONFIG"] = pg_cfg
    e.start()
    try:
        # Every tag SQLite has (e.sql still reads berth.db), pulled
        # through the registry now serving from PostgreSQL, every byte.
        errors = []
        n = ops.pull_all(e, errors)
        st, body = e.reg.get_manifest("ops/alpha", "1.0")
        check("migrate: every tagged image pulls intact through the PostgreSQL "
              "registry (%d)" % n, n >= 3 and not errors and body == f.A, errors)
        st, data = e.reg.get_blob("ops/alpha", ops.sha(f.L1))
        check("migrate: and their blobs", st == 200 and data == f.L1, st)
        body = ops.push_image(e.reg, "ops/alpha", "after", b'{"n":"after"}', [f.L1])
        check("migrate: pushes continue, new ids past the copied ones",
              e.reg.get_manifest("ops/alpha", "after") == (200, body))
    finally:
        e.stop()
    rc, r, err = cli(dict(os.environ), pg_cfg, "fsck")
    check("migrate: fsck on PostgreSQL is clean", rc == 0 and r and r["problems"] == [],
          (r, err))
    if berthtest.failed == 0:
        shutil.rmtree(e.data, ignore_errors=True)
    return berthtest.summary()


if __name__ == "__main__":
    sys.exit(main())
