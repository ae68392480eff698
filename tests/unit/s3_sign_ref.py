#!/usr/bin/python3
"""s3_sign_ref.py -- reference AWS SigV4 signatures from Debian's
python3-botocore, for tests/unit/s3_sign_test.c (which runs this script
and compares its own output with these lines).

usage: s3_sign_ref.py METHOD HOST PATH REGION ACCESS SECRET EPOCH PAYLOAD
                      [KEY VALUE]...
PATH and the query KEY/VALUE pairs are raw (not encoded); PAYLOAD is the
hex SHA-256 of the body or UNSIGNED-PAYLOAD.  Prints two lines: the
Authorization header botocore's S3SigV4Auth computes, and the query of the
presigned URL S3SigV4QueryAuth computes for 900 s (its parameters sorted,
X-Amz-Signature last, so that the order is comparable)."""
import datetime
import sys
from unittest import mock
from urllib.parse import quote, parse_qsl, urlsplit

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

method, host, path, region, ak, sk, epoch, payload = sys.argv[1:9]
rest = sys.argv[9:]
params = [(rest[i], rest[i + 1]) for i in range(0, len(rest), 2)]
when = datetime.datetime.utcfromtimestamp(int(epoch))


class Fixed(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return when


url = "http://%s%s" % (host, quote(path, safe="/~"))
cred = Credentials(ak, sk)
with mock.patch("botocore.auth.datetime.datetime", Fixed):
    r = AWSRequest(method=method, url=url, params=params)
    r.headers["X-Amz-Content-SHA256"] = payload
    r.context["payload_signing_enabled"] = False

    class Signer(S3SigV4Auth):
        def payload(self, request):
            return payload
    Signer(cred, "s3", region).add_auth(r)
    print(r.headers["Authorization"])

    p = AWSRequest(method=method, url=url, params=params)
    S3SigV4QueryAuth(cred, "s3", region, expires=900).add_auth(p)
    pairs = parse_qsl(urlsplit(p.url).query, keep_blank_values=True)
    sig = [v for k, v in pairs if k == "X-Amz-Signature"]
    rest = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~"))
                  for k, v in pairs if k != "X-Amz-Signature")
    print("&".join("%s=%s" % kv for kv in rest) + "&X-Amz-Signature=" + sig[0])
