#!/usr/bin/python3
"""s3_fault_proxy.py PORTFILE LOGFILE HOST PORT -- a TCP forwarder on
127.0.0.1 (a free port, written to PORTFILE) in front of the real store at
HOST:PORT, for the backend suite's fault rows (tests/backend/backend.c).
It forwards every connection unchanged until it gets SIGUSR1; from then on
it answers every request itself with 503 SlowDown (S3's throttling error,
Connection: close) and appends one line per request to LOGFILE, so the
suite can count retries.  After SIGUSR2 it does so only for the uploads
of multipart parts (a request line with partNumber=) and forwards the
rest, so the suite sees a multipart upload fail and be aborted.  Killing
it makes the store unreachable."""
import os
import signal
import socket
import sys
import threading

portfile, logfile, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
mode = {"slowdown": False, "parts": False}
conns = []


def to_slowdown(*_):
    # Connections kept alive from before are cut: the next request of the
    # client comes on a new one, and meets the 503s.
    mode["slowdown"] = True
    cut()


def to_parts(*_):
    mode["parts"] = True
    cut()


def cut():
    for s in conns:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


signal.signal(signal.SIGUSR1, to_slowdown)
signal.signal(signal.SIGUSR2, to_parts)

BODY = (b"<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>SlowDown</Code>"
        b"<Message>Please reduce your request rate.</Message></Error>")


def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def slowdown(c):
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(65536)
        if not d:
            return
        data += d
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    with open(logfile, "a") as f:
        f.write(line + "\n")
    c.sendall(b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(BODY) + BODY)
    c.close()


def relay(c, first):
    """Forward requests of one kept-alive connection; a part upload gets
    the 503 instead (in "parts" mode), and the connection ends there."""
    data = first
    while True:
        while b"\r\n\r\n" not in data:
            d = c.recv(65536)
            if not d:
                return
            data += d
        head, _, rest = data.partition(b"\r\n\r\n")
        line = head.split(b"\r\n", 1)[0]
        length = 0
        for h in head.split(b"\r\n")[1:]:
            k, _, v = h.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        while len(rest) < length:
            d = c.recv(65536)
            if not d:
                return
            rest += d
        body, data = rest[:length], rest[length:]
        if b"partNumber=" in line:
            with open(logfile, "a") as f:
                f.write(line.decode("latin-1") + "\n")
            c.sendall(b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
                      b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(BODY) + BODY)
            c.close()
            return
        u = socket.create_connection((host, port))
        u.sendall(head.replace(b"\r\nConnection: keep-alive", b"") +
                  b"\r\nConnection: close\r\n\r\n" + body)
        while True:
            d = u.recv(65536)
            if not d:
                break
            c.sendall(d)
        u.close()
        c.close()
        return


def serve(c):
    if mode["slowdown"]:
        slowdown(c)
        return
    if mode["parts"]:
        relay(c, b"")
        return
    u = socket.create_connection((host, port))
    conns.extend((c, u))
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
    pipe(c, u)


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(64)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % ls.getsockname()[1])
os.rename(portfile + ".tmp", portfile)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
