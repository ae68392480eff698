#!/usr/bin/python3
"""s3tool.py -- talk to the object store of a hosting/s3-local.sh DIR
(BERTH_S3_DIR) straight over the S3 API, signed by botocore: what the s3
layer (tests/s3/run.sh) and the benchmarks (bench/run.sh) check berth's
work with, independently of berth's own client.

  s3tool.py ls PREFIX          one line per object: KEY SIZE
  s3tool.py get KEY            the object's bytes to stdout (exit 3: 404)
  s3tool.py presign METHOD KEY a presigned URL (900 s) for curl
  s3tool.py put KEY FILE       store FILE's bytes under KEY
  s3tool.py uploads PREFIX     multipart uploads in progress: KEY UPLOADID
  s3tool.py status             exit 0 when the store answers, 1 if not"""
import os
import re
import sys
import urllib.error
import urllib.request
from urllib.parse import quote

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

d = os.environ["BERTH_S3_DIR"]
env = dict(l.strip().split("=", 1) for l in open(os.path.join(d, "s3.env")) if "=" in l)
EP, BUCKET, REGION = env["endpoint"], env["bucket"], env["region"]
CRED = Credentials(env["access_key"], env["secret_key"])


def request(method, key, params=None, data=None):
    url = "%s/%s/%s" % (EP, BUCKET, quote(key, safe="/~"))
    r = AWSRequest(method=method, url=url, params=params or {}, data=data)
    r.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
    S3SigV4Auth(CRED, "s3", REGION).add_auth(r)
    p = r.prepare()
    req = urllib.request.Request(p.url, method=method, data=data,
                                 headers=dict(p.headers.items()))
    return urllib.request.urlopen(req, timeout=30)


def ls(prefix):
    token = None
    while True:
        params = {"list-type": "2", "prefix": prefix}
        if token:
            params["continuation-token"] = token
        body = request("GET", "", params).read().decode()
        for m in re.finditer(r"<Contents><Key>(.*?)</Key>.*?<Size>(\d+)</Size>", body):
            print(m.group(1), m.group(2))
        t = re.search(r"<NextContinuationToken>(.*?)</NextContinuationToken>", body)
        if "<IsTruncated>true</IsTruncated>" not in body or not t:
            return
        token = t.group(1)


cmd = sys.argv[1]
try:
    if cmd == "ls":
        ls(sys.argv[2])
    elif cmd == "get":
        with request("GET", sys.argv[2]) as r:
            while True:
                b = r.read(1 << 20)
                if not b:
                    break
                sys.stdout.buffer.write(b)
    elif cmd == "presign":
        url = "%s/%s/%s" % (EP, BUCKET, quote(sys.argv[3], safe="/~"))
        r = AWSRequest(method=sys.argv[2], url=url)
        S3SigV4QueryAuth(CRED, "s3", REGION, expires=900).add_auth(r)
        print(r.url)
    elif cmd == "uploads":
        body = request("GET", "", {"uploads": "", "prefix": sys.argv[2]}).read().decode()
        for m in re.finditer(r"<Upload><Key>(.*?)</Key><UploadId>(.*?)</UploadId>", body):
            print(m.group(1), m.group(2))
    elif cmd == "put":
        with open(sys.argv[3], "rb") as f:
            request("PUT", sys.argv[2], data=f.read()).close()
    elif cmd == "status":
        request("HEAD", "").close()
except urllib.error.HTTPError as e:
    sys.exit(3 if e.code == 404 else 1)
except OSError:
    sys.exit(1)
