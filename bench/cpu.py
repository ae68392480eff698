#!/usr/bin/python3
"""cpu.py PID... -- the CPU time the process trees rooted at PID... have
used so far: user + system time of every living process in them, from
/proc/PID/stat (fields 14 and 15, in clock ticks), as one number of
microseconds.  bench/run.sh reads it before and after a load test and
divides the difference by the requests answered: server CPU per request
(nginx and its workers, berth's pool and its workers, the peer).  A
process that ended during the run takes its time with it: the trees
measured here keep their processes."""
import os
import sys

TICK = os.sysconf("SC_CLK_TCK")


def stats():
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                f = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # After the command: state ppid ... utime(14) stime(15), counted
        # from field 3 (state) here.
        out[int(d)] = (int(f[1]), int(f[11]) + int(f[12]))
    return out


def main():
    st = stats()
    kids = {}
    for pid, (ppid, _) in st.items():
        kids.setdefault(ppid, []).append(pid)
    seen, todo = set(), [int(p) for p in sys.argv[1:]]
    while todo:
        p = todo.pop()
        if p in seen or p not in st:
            continue
        seen.add(p)
        todo.extend(kids.get(p, []))
    print(sum(st[p][1] for p in seen) * 1000000 // TICK)


if __name__ == "__main__":
    main()
