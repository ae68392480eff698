#!/usr/bin/python3
"""mem.py PID... -- the memory of the process trees rooted at PID...

Prints JSON, in MB: rss (the sum of each process's VmRSS, shared pages
counted once per process), pss (the sum of Pss: shared pages split among
their users) and resident (the physical pages the processes use together,
each counted once, read from /proc/PID/pagemap; needs root, else null)."""
import json
import os
import struct
import sys


def children():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def tree(roots):
    kids, seen, todo = children(), set(), list(roots)
    while todo:
        p = todo.pop()
        if p in seen or not os.path.isdir("/proc/%d" % p):
            continue
        seen.add(p)
        todo.extend(kids.get(p, []))
    return sorted(seen)


def field(path, name):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pfns(pid):
    out = set()
    try:
        maps = open("/proc/%d/maps" % pid).read().splitlines()
        pm = open("/proc/%d/pagemap" % pid, "rb")
    except OSError:
        return out
    with pm:
        for line in maps:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if lo >= 1 << 47:       # [vsyscall]
                continue
            for page in range(lo // 4096, hi // 4096, 65536):
                n = min(65536, hi // 4096 - page)
                pm.seek(page * 8)
                try:
                    data = pm.read(n * 8)
                except OSError:
                    break
                for (e,) in struct.iter_unpack("<Q", data):
                    if e >> 63 & 1 and e & ((1 << 55) - 1):
                        out.add(e & ((1 << 55) - 1))
    return out


def main():
    pids = tree(int(p) for p in sys.argv[1:])
    rss = sum(field("/proc/%d/status" % p, "VmRSS") for p in pids)
    pss = sum(field("/proc/%d/smaps_rollup" % p, "Pss") for p in pids)
    resident = None
    if os.geteuid() == 0:
        pages = set()
        for p in pids:
            pages |= pfns(p)
        resident = len(pages) * 4096 / 1048576
    print(json.dumps({"processes": len(pids), "rss": rss / 1024,
                      "pss": pss / 1024, "resident": resident}))


if __name__ == "__main__":
    main()
