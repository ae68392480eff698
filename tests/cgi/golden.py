#!/usr/bin/python3
"""golden.py -- request/response tests of berth as a plain CGI program.

Each case in tests/cgi/cases/NNN-name.txt is a short story of HTTP
exchanges against a fresh registry (a temporary data directory and INI
file); every exchange holds the request and the exact response berth must
write: the CGI status line, every header in order, the body.  No web
server: the runner sets the CGI variables itself (RFC 3875 4.1) the way
cgi/request.c reads them -- GATEWAY_INTERFACE, REQUEST_METHOD,
REQUEST_URI, QUERY_STRING, SCRIPT_NAME, PATH_INFO, CONTENT_LENGTH,
CONTENT_TYPE and HTTP_* -- points BERTH_CONFIG at the INI file, runs the
binary once per exchange with the body on stdin, and compares its stdout.

Case file syntax (a line's first characters decide what it is):

  # text              a comment (outside bodies)
  @include NAME       run the exchanges of tests/cgi/fixtures/NAME.txt here,
                      checked like the case's own
  @ini [SECTION] KEY = VALUE
                      from here on, the INI file also holds this key (a
                      later @ini of the same key replaces it)
  @prefix /PATH       from here on, the registry is mounted under /PATH: it
                      leads REQUEST_URI and is SCRIPT_NAME
  >>> METHOD URI      a request: header lines "Name: value" may follow,
                      then a blank line and the body
  <<<                 the expected response: "Status: NNN Reason", header
                      lines, and when there is a body a blank line and it

A body runs to the next line beginning with ">>>", "<<<", "@" or "#", less
the blank lines at its end: a body never ends in a newline (berth's JSON
does not; request bodies here are chosen so).  Content-Length is the
body's length for PUT, POST and PATCH and whenever there is a body; a
Content-Length header line overrides it.  Response headers must end in
CRLF; the goldens are written with plain newlines.

Placeholders, for the only values that truly vary (berth writes no dates:
the web server adds Date):
  {{uuid:NAME}}  in a response: an upload session id (the grammar of
                 valid_upload_id), remembered as NAME
  {{NAME}}       in a request or response: the value remembered as NAME
  {{data_dir}}   the case's temporary data directory (absolute)

Error responses: a golden with a status of 400 or more may hold only the
headers in ERROR_HEADERS (Docker-Distribution-API-Version, Content-Type,
Content-Length; Content-Range on a 416, Allow on a 405) -- a golden that
holds a success header fails, and GOLDEN_UPDATE will not write one.

Besides the bytes, an exchange fails when berth exits non-zero or its
stderr holds a sanitizer report (with ASan, leaks are checked too: a CGI
process exits normally after its one request).

Known bugs: a case named in EXPECTED_FAIL holds the CORRECT exchange and
fails today; it is reported as "expected to fail" with its diff and does
not fail the run.  When it passes, the run fails until the entry is
removed.

Usage: golden.py [CASE...]   (names or prefixes: "005", "005-blob-range")
  BERTH          the binary (default build/berth from the repository root)
  GOLDEN_UPDATE  1: rewrite the expected responses of the cases run (and of
                 the fixtures they include) with what berth answers, its
                 upload ids turned back into placeholders; cases in
                 EXPECTED_FAIL are left as they are.  Review the diff.
  KEEP_TMP       1: keep the temporary data directories
Prints "N passed, N failed, N expected to fail" last; exits 1 on failure.
"""

import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

# Cases that hold the correct exchange for a bug still open (issue 10):
# name -> why it fails today.  Remove an entry when its fix lands.
EXPECTED_FAIL = {
}

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CASES = os.path.join(HERE, "cases")
FIXTURES = os.path.join(HERE, "fixtures")

# The patterns a {{kind:NAME}} placeholder matches.
KINDS = {
    "uuid": r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
}
PLACEHOLDER = re.compile(r"\{\{(?:([a-z]+):)?([A-Za-z0-9_]+)\}\}")

# Every case's INI starts with this; @ini lines add to it.  Blob bytes are
# streamed by berth itself, so a GET shows them.
BASE_INI = [("storage", "data_dir", "{{data_dir}}"),
            ("blob.fs", "offload", "stream")]

# The only headers an error response may carry (issue 10.2): never a
# success header such as Cache-Control, ETag, Docker-Content-Digest,
# Location or an upload's Range.  Every golden is checked against this,
# so that GOLDEN_UPDATE cannot accept a leak; with the status each needs.
ERROR_HEADERS = {
    "Docker-Distribution-API-Version": None,
    "Content-Type": None,
    "Content-Length": None,
    "Content-Range": 416,	# bytes */<size> (RFC 9110 15.5.17)
    "Allow": 405,		# RFC 9110 15.5.6
    "WWW-Authenticate": 401,
    "Retry-After": 503,	# RFC 9110 10.2.3: a backend out of reach
    # An upload chunk's 416 says where to resume (oci-spec.md 3, from
    # the Docker API docs: Location, Range, Docker-Upload-UUID).
    "Location": 416,
    "Range": 416,
    "Docker-Upload-UUID": 416,
}

SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error:")


class CaseError(Exception):
    pass


class Exchange:
    """One request and its expected response, with where the response
    sits in its file (lines [resp_start, resp_end)) for GOLDEN_UPDATE."""

    def __init__(self, path, line):
        self.path = path
        self.line = line
        self.method = self.uri = None
        self.req_headers = []
        self.req_body = ""
        self.response = ""
        self.resp_start = self.resp_end = None
        self.ini = {}
        self.prefix = ""


def strip_body(lines):
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def parse(path, ini=None, prefix="", seen=()):
    """The exchanges of one file, fixtures expanded; ini and prefix are the
    settings in force when it starts.  Returns (exchanges, ini, prefix)."""
    ini = dict(ini or {})
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out = []
    i = 0

    def where(n):
        return "%s:%d" % (os.path.relpath(path, ROOT), n + 1)

    def starts_item(s):
        return s.startswith((">>>", "<<<", "@", "#"))

    while i < len(lines):
        s = lines[i]
        if s == "" or s.startswith("#"):
            i += 1
        elif s.startswith("@include "):
            name = s.split(None, 1)[1].strip()
            fx = os.path.join(FIXTURES, name + ".txt")
            if fx in seen or not os.path.exists(fx):
                raise CaseError("%s: cannot include %s" % (where(i), name))
            sub, ini, prefix = parse(fx, ini, prefix, seen + (path,))
            out += sub
            i += 1
        elif s.startswith("@ini "):
            m = re.fullmatch(r"@ini \[([^\]]+)\]\s*([^=\s]+)\s*=\s*(.*)", s)
            if m is None:
                raise CaseError("%s: @ini [section] key = value" % where(i))
            ini[(m.group(1), m.group(2))] = m.group(3)
            i += 1
        elif s.startswith("@prefix"):
            prefix = s[len("@prefix"):].strip().rstrip("/")
            i += 1
        elif s.startswith(">>> "):
            ex = Exchange(path, i + 1)
            ex.ini, ex.prefix = dict(ini), prefix
            parts = s[4:].split()
            if len(parts) != 2:
                raise CaseError("%s: >>> METHOD URI" % where(i))
            ex.method, ex.uri = parts
            i += 1
            while i < len(lines) and lines[i] != "" and not starts_item(lines[i]):
                name, sep, value = lines[i].partition(":")
                if not sep:
                    raise CaseError("%s: a header is Name: value" % where(i))
                ex.req_headers.append((name.strip(), value.strip()))
                i += 1
            body = []
            if i < len(lines) and lines[i] == "":
                i += 1
                while i < len(lines) and not starts_item(lines[i]):
                    body.append(lines[i])
                    i += 1
            ex.req_body = "\n".join(strip_body(body))
            if i >= len(lines) or lines[i] != "<<<":
                raise CaseError("%s: the request has no <<< response" % where(i))
            i += 1
            ex.resp_start = i
            resp = []
            while i < len(lines) and not starts_item(lines[i]):
                resp.append(lines[i])
                i += 1
            strip_body(resp)
            ex.resp_end = ex.resp_start + len(resp)
            if not resp or not resp[0].startswith("Status: "):
                raise CaseError("%s: a response begins with Status:" %
                                where(ex.resp_start))
            ex.response = "\n".join(resp)
            out.append(ex)
        else:
            raise CaseError("%s: what is %r?" % (where(i), s))
    return out, ini, prefix


def expand(text, env):
    """Replace {{NAME}} with remembered values (in a request)."""

    def sub(m):
        if m.group(1) is not None or m.group(2) not in env:
            raise CaseError("%s is not known here" % m.group(0))
        return env[m.group(2)]

    return PLACEHOLDER.sub(sub, text)


def template_regex(text, env):
    """A regex for an expected response; new {{kind:NAME}} become groups."""
    out, pos, names = [], 0, []
    for m in PLACEHOLDER.finditer(text):
        out.append(re.escape(text[pos:m.start()]))
        kind, name = m.group(1), m.group(2)
        if kind is not None:
            if kind not in KINDS:
                raise CaseError("unknown placeholder kind %s" % kind)
            if name in names:
                out.append("(?P=%s)" % name)
            else:
                out.append("(?P<%s>%s)" % (name, KINDS[kind]))
                names.append(name)
        elif name in names:
            out.append("(?P=%s)" % name)
        elif name in env:
            out.append(re.escape(env[name]))
        else:
            raise CaseError("{{%s}} is not known here" % name)
        pos = m.end()
    out.append(re.escape(text[pos:]))
    return "".join(out)


def render(text, env):
    """An expected response with what is known filled in (for a diff)."""
    return PLACEHOLDER.sub(
        lambda m: env.get(m.group(2), m.group(0)) if m.group(1) is None
        else m.group(0), text)


def path_info(path):
    """PATH_INFO as a web server sets it: the path decoded (RFC 3875
    4.1.5); raw when it would decode to a NUL, which no environment can
    hold (web servers refuse such a path; request.c reads REQUEST_URI)."""
    decoded = urllib.parse.unquote(path)
    return path if "\0" in decoded else decoded


def run_one(berth, tmp, ex, env):
    """Run one exchange.  Returns (actual response text, stderr, problem)."""
    ini_path = os.path.join(tmp, "berth.ini")
    settings = {(s, k): v for s, k, v in BASE_INI}
    settings.update(ex.ini)
    sections = {}
    for (s, k), v in settings.items():
        sections.setdefault(s, []).append("%s = %s" % (k, expand(v, env)))
    with open(ini_path, "w") as f:
        for s, keys in sections.items():
            f.write("[%s]\n%s\n" % (s, "\n".join(keys)))

    uri = expand(ex.uri, env)
    body = expand(ex.req_body, env).encode()
    path, _, query = uri.partition("?")
    cgi = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_SOFTWARE": "golden.py",
        "SERVER_NAME": "registry.test",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "REQUEST_METHOD": ex.method,
        "REQUEST_URI": ex.prefix + uri,
        "QUERY_STRING": query,
        "SCRIPT_NAME": ex.prefix,
        "PATH_INFO": path_info(path),
        "BERTH_CONFIG": ini_path,
    }
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            cgi[k] = os.environ[k]
    # A CGI process exits normally after its one request, so an ASan
    # build checks it for leaks too (a no-op without ASan).
    cgi["ASAN_OPTIONS"] = (cgi.get("ASAN_OPTIONS", "") +
                           ":detect_leaks=1").lstrip(":")
    if body or ex.method in ("PUT", "POST", "PATCH"):
        cgi["CONTENT_LENGTH"] = str(len(body))
    for name, value in ex.req_headers:
        value = expand(value, env)
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_LENGTH", "CONTENT_TYPE"):
            cgi[key] = value
        else:
            cgi["HTTP_" + key] = value
    try:
        p = subprocess.run([berth], input=body, env=cgi, capture_output=True,
                           timeout=60, cwd=tmp)
    except subprocess.TimeoutExpired:
        return "", "", "berth took over 60 s"
    err = p.stderr.decode(errors="replace")
    if p.returncode != 0:
        return "", err, "berth exited with %d" % p.returncode
    if SANITIZER.search(err):
        return "", err, "a sanitizer report"
    head, sep, rbody = p.stdout.partition(b"\r\n\r\n")
    if not sep:
        return p.stdout.decode(errors="replace"), err, \
            "no CRLF CRLF after the headers"
    head_lines = head.decode(errors="replace").split("\r\n")
    if any("\n" in h or "\r" in h for h in head_lines):
        return p.stdout.decode(errors="replace"), err, \
            "a header line not ended by CRLF"
    text = "\n".join(head_lines)
    if rbody:
        text += "\n\n" + rbody.decode(errors="replace")
    return text, err, None


def to_template(actual, env, old):
    """For GOLDEN_UPDATE: actual with remembered values turned back into
    {{NAME}}, and new upload ids into {{uuid:NAME}} -- named as in the old
    golden, in order, else u1, u2, ...  Returns (template, new bindings)."""
    names = [m.group(2) for m in PLACEHOLDER.finditer(old) if m.group(1)]
    back = {v: k for k, v in env.items()}
    new = {}

    actual = actual.replace(env["data_dir"], "{{data_dir}}")

    def sub(m):
        v = m.group(0)
        if v in back:
            return "{{%s}}" % back[v]
        if v in new.values():
            return "{{%s}}" % [k for k, x in new.items() if x == v][0]
        name = names.pop(0) if names else "u%d" % (len(env) + len(new) + 1)
        new[name] = v
        return "{{uuid:%s}}" % name

    return re.sub(KINDS["uuid"], sub, actual), new


def error_leaks(response):
    """The headers of an error response (status >= 400) that ERROR_HEADERS
    does not allow on it; [] for a success."""
    lines = response.split("\n")
    m = re.match(r"Status: (\d+) ", lines[0])
    status = int(m.group(1)) if m else 0
    if status < 400:
        return []
    leaks = []
    for line in lines[1:]:
        if line == "":
            break
        name = line.split(":", 1)[0]
        if name not in ERROR_HEADERS or ERROR_HEADERS[name] not in (None,
                                                                    status):
            leaks.append(name)
    return leaks


def run_case(berth, path, update, updates):
    """Run one case.  Returns a list of failure reports (empty: passed)."""
    name = os.path.basename(path)[:-4]
    exchanges, _, _ = parse(path)
    tmp = tempfile.mkdtemp(prefix="berth-cgi-%s." % name)
    env, problems = {"data_dir": tmp + "/data"}, []
    try:
        for ex in exchanges:
            where = "%s:%d %s %s" % (os.path.relpath(ex.path, ROOT), ex.line,
                                     ex.method, ex.uri)
            leaks = error_leaks(ex.response)
            if leaks:
                problems.append("%s: the golden is an error carrying %s: "
                                "fix the golden" % (where, ", ".join(leaks)))
                continue
            actual, err, problem = run_one(berth, tmp, ex, env)
            fatal = problem is not None
            m = None
            if problem is None:
                m = re.fullmatch(template_regex(ex.response, env), actual,
                                 re.S)
            if update and problem is None and m is None and \
                    error_leaks(actual):
                problem = "not rewritten: the error carries %s" % \
                    ", ".join(error_leaks(actual))
            elif update and problem is None and m is None:
                tpl, new = to_template(actual, env, ex.response)
                updates.setdefault((ex.path, ex.resp_start),
                                   (ex.resp_end, tpl))
                env.update(new)
                continue
            if m is not None:
                env.update(m.groupdict())
                continue
            if not fatal:
                # Remember its upload ids anyway, so that later exchanges
                # run and show their own differences.
                env.update(to_template(actual, env, ex.response)[1])
            report = [where + ": " + (problem or "response differs")]
            want = render(ex.response, env).split("\n")
            got = actual.split("\n")
            if not fatal:
                report += [l.rstrip("\n") for l in difflib.unified_diff(
                    want, got, "expected", "actual", lineterm="", n=20)]
            if err.strip():
                report += ["berth's stderr:"] + ["  " + l for l in
                                                 err.strip().split("\n")[-30:]]
            problems.append("\n".join(report))
            if fatal:
                break	# berth itself failed: later exchanges would too
    finally:
        if os.environ.get("KEEP_TMP") == "1":
            print("  kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return problems


def write_updates(updates):
    files = {}
    for (path, start), (end, tpl) in updates.items():
        files.setdefault(path, []).append((start, end, tpl))
    for path, edits in files.items():
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for start, end, tpl in sorted(edits, reverse=True):
            lines[start:end] = tpl.split("\n")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        print("rewrote %s" % os.path.relpath(path, ROOT))


def main(argv):
    berth = os.environ.get("BERTH", "build/berth")
    if not os.path.isabs(berth):
        berth = os.path.join(ROOT, berth)
    if not os.access(berth, os.X_OK):
        print("golden.py: no berth binary at %s" % berth)
        print("0 passed, 1 failed")
        return 1
    update = os.environ.get("GOLDEN_UPDATE") == "1"
    names = sorted(f[:-4] for f in os.listdir(CASES) if f.endswith(".txt"))
    if argv:
        names = [n for n in names if any(n.startswith(a) for a in argv)]
    for n in EXPECTED_FAIL:
        if n not in names and not argv:
            print("golden.py: EXPECTED_FAIL names %s, which is no case" % n)
            return 1
    passed = failed = xfail = 0
    updates = {}
    for name in names:
        if update and name in EXPECTED_FAIL:
            print("kept %s (expected to fail: its golden is the fix)" % name)
            continue
        before = len(updates)
        try:
            problems = run_case(berth, os.path.join(CASES, name + ".txt"),
                                update, updates)
        except CaseError as e:
            problems = ["%s: %s" % (name, e)]
        except (OSError, ValueError) as e:
            problems = ["%s: the runner failed: %r" % (name, e)]
        if name in EXPECTED_FAIL:
            if problems:
                xfail += 1
                print("XFAIL %s -- %s" % (name, EXPECTED_FAIL[name]))
                print("\n".join("  " + l for p in problems
                                for l in p.split("\n")))
            else:
                failed += 1
                print("XPASS %s: it passes now; remove it from EXPECTED_FAIL "
                      "in tests/cgi/golden.py" % name)
        elif problems:
            failed += 1
            print("FAIL  %s" % name)
            print("\n".join("  " + l for p in problems for l in p.split("\n")))
        else:
            passed += 1
            print("%s %s" % ("ok   " if len(updates) == before else
                             "wrote", name))
    if update:
        write_updates(updates)
    print("%d passed, %d failed, %d expected to fail" % (passed, failed, xfail))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
