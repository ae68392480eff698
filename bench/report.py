#!/usr/bin/python3
"""report.py RESULTS.jsonl OUT_DIR TIMESTAMP QUICK WORKERS

Turns the figures bench/run.sh collected into the table it prints, the
JSON beside it (OUT_DIR/<timestamp>.json and latest.json) and a PNG chart
drawn by gnuplot (OUT_DIR/<timestamp>.png and latest.png).  Targets are
reported, never asserted: the exit status is 0 whatever the numbers."""
import json
import os
import platform
import shutil
import subprocess
import sys

# key -> (comparison, bound, description); comparison on berth/peer,
# berth/ceiling, or berth's own value.
STATIC_P99 = ("ceiling", "<=", 2, "p99 <= 2x nginx static's")
TARGETS = {
    "manifest_get_tag_rps": [("peer", ">=", 10, "manifest GET >= 10x peer"),
                             ("ceiling", ">=", 0.7, "manifest GET by tag >= 0.7x static")],
    # issue 13: reads against nginx serving a static 1 KiB file.
    "manifest_get_digest_rps": [("ceiling", ">=", 0.9, "manifest GET by digest >= 0.9x static")],
    "manifest_head_digest_rps": [("ceiling", ">=", 0.9, "manifest HEAD >= 0.9x static HEAD")],
    "blob_head_rps": [("ceiling", ">=", 0.9, "blob HEAD >= 0.9x static HEAD")],
    "tags200_rps": [("ceiling", ">=", 0.5, "tags list (200) >= 0.5x static")],
    "manifest_get_tag_p99": [STATIC_P99],
    "manifest_get_digest_p99": [STATIC_P99],
    "manifest_head_digest_p99": [STATIC_P99],
    "blob_head_p99": [STATIC_P99],
    "tags200_p99": [STATIC_P99],
    "manifest_get_tag_cpu": [("value", "<=", 40, "server CPU per manifest GET <= 40 us")],
    "blob_get_64MiB": [("ceiling", ">=", 0.9, "blob GET >= 0.9x nginx static")],
    "blob_get_1GiB": [("ceiling", ">=", 0.9, "blob GET >= 0.9x nginx static")],
    "blob_get_256MiB": [("ceiling", ">=", 0.9, "blob GET >= 0.9x nginx static")],
    "push_256MiB_monolithic": [
        ("ceiling", ">=", 0.6, "push >= 0.6x nginx body to disk"),
        ("peer", ">=", 1.7, "push >= 1.7x peer")],
    "push_256MiB_chunked_8MiB": [
        ("ceiling", ">=", 0.6, "push >= 0.6x nginx body to disk"),
        ("peer", ">=", 1.7, "push >= 1.7x peer")],
    "push_256MiB_monolithic_vs_fsync": [
        ("ceiling", ">=", 0.6, "push >= 0.6x durable ceiling")],
    "push_256MiB_chunked_8MiB_vs_fsync": [
        ("ceiling", ">=", 0.6, "push >= 0.6x durable ceiling")],
    "manifest_get_slow_rps": [
        ("ceiling", ">=", 0.8, "slow-loaded >= 0.8x unloaded")],
    "manifest_get_slow_p99": [("peer", "<=", 1, "slow-loaded p99 <= peer's")],
    # issue 14: the s3 handler against the store itself (and fs).
    "s3_push_256MiB": [("ceiling", ">=", 0.7, "s3 push >= 0.7x the store's own PUT")],
    "s3_pull_64MiB_presigned": [("ceiling", ">=", 0.9, "s3 pull >= 0.9x the store's own GET")],
    "s3_manifest_get_tag_rps": [("ceiling", ">=", 0.9, "s3 manifest GET unchanged from fs (>= 0.9x)")],
    "mem_pool_resident_rest": [("value", "<", 10, "worker pool < 10 MB at rest")],
    "mem_pool_rss_rest": [("value", "<", 10, "worker pool < 10 MB (RSS sum)")],
    "manifest_get_token_rps": [
        ("ceiling", ">=", 0.9, "with a token >= 0.9x without auth")],
}


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return "%.0f" % v
    if abs(v) >= 100:
        return "%.1f" % v
    if abs(v) >= 1:
        return "%.2f" % v
    return "%.3f" % v


def cmd(*argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (p.stdout + p.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return None


def main():
    results, out_dir, ts, quick, workers = sys.argv[1:6]
    figs = [json.loads(l) for l in open(results) if l.strip()]
    verdicts = []
    for f in figs:
        f["berth_per_peer"] = ratio(f["berth"], f["peer"])
        f["berth_per_ceiling"] = ratio(f["berth"], f["ceiling"])
        f["targets"] = []
        for against, op, bound, desc in TARGETS.get(f["key"], []):
            v = {"peer": f["berth_per_peer"], "ceiling": f["berth_per_ceiling"],
                 "value": f["berth"]}[against]
            met = None if v is None else (v >= bound if op == ">=" else
                                          v <= bound if op == "<=" else v < bound)
            t = {"target": desc, "value": v, "met": met}
            f["targets"].append(t)
            verdicts.append((f["label"], t))

    # The table.
    head = ["figure", "unit", "berth", "peer", "ceiling", "b/peer", "b/ceil",
            "ceiling is"]
    rows = [[f["label"] + (" (lower is better)" if f["better"] == "lower" else ""),
             f["unit"], fmt(f["berth"]), fmt(f["peer"]), fmt(f["ceiling"]),
             fmt(f["berth_per_peer"]), fmt(f["berth_per_ceiling"]),
             f["ceiling_name"]] for f in figs]
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "  ".join(c.ljust(widths[i]) if i in (0, 1, 7) else
                               c.rjust(widths[i]) for i, c in enumerate(r))
    print()
    print(line(head).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r).rstrip())
    print()
    print("targets (reported, not asserted):")
    for label, t in verdicts:
        state = {True: "met", False: "MISSED", None: "n/a"}[t["met"]]
        print("  %-7s %-34s %s: %s" % (state, t["target"], label, fmt(t["value"])))

    print("\nload average at start %s, at end %.2f %.2f %.2f on %d CPUs "
          "(above the CPU count, other work moved these figures)" % (
              os.environ.get("BENCH_LOAD_START", "?"), *os.getloadavg(),
              os.cpu_count()))
    git = cmd("git", "rev-parse", "--short", "HEAD")
    doc = {
        "timestamp": ts, "quick": quick == "1", "workers": int(workers),
        "host": {"cpus": os.cpu_count(), "kernel": platform.release(),
                 "loadavg_start": os.environ.get("BENCH_LOAD_START"),
                 "loadavg_end": "%.2f %.2f %.2f" % os.getloadavg()},
        "versions": {"berth": git, "nginx": cmd("nginx", "-v"),
                     "docker-registry": cmd("docker-registry", "--version"),
                     "wrk": cmd("wrk", "-v"), "openssl": cmd("openssl", "version")},
        "figures": figs,
    }
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, ts + ".json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    shutil.copyfile(path, os.path.join(out_dir, "latest.json"))

    # The chart: berth's advantage over peer and ceiling, oriented so that
    # above 1 is berth ahead, on a log scale.
    dat = os.path.join(out_dir, ts + ".dat")
    png = os.path.join(out_dir, ts + ".png")

    def adv(f, r):
        if r is None or r <= 0:
            return "NaN"
        return "%g" % (r if f["better"] == "higher" else 1 / r)

    with open(dat, "w") as d:
        for f in figs:
            if f["berth_per_peer"] is None and f["berth_per_ceiling"] is None:
                continue
            d.write('"%s" %s %s\n' % (f["label"].replace('"', "'"),
                                      adv(f, f["berth_per_peer"]),
                                      adv(f, f["berth_per_ceiling"])))
    gp = """
set terminal pngcairo size 1400,800 noenhanced font ",10"
set output '%s'
set title "berth vs docker-registry 2.8 and vs ceilings (%s%s) -- above 1: berth ahead"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y 10
set yrange [0.01:*]
set grid ytics
set ylabel "berth's advantage (x, log scale)"
set xtics rotate by -40 scale 0
set bmargin 16
set rmargin 14
set key top right
plot '%s' using 2:xtic(1) title 'vs peer (docker-registry)', \\
     '' using 3 title 'vs ceiling (nginx static / body to disk / exec)', \\
     1 notitle lc rgb 'black' lw 1
""" % (png, ts, ", quick" if quick == "1" else "", dat)
    gpf = os.path.join(out_dir, ts + ".gp")
    with open(gpf, "w") as f:
        f.write(gp)
    r = subprocess.run(["gnuplot", gpf], capture_output=True, text=True)
    if r.returncode == 0:
        shutil.copyfile(png, os.path.join(out_dir, "latest.png"))
        print("\nwrote %s, %s and %s (latest.*)" % (path, png, dat))
    else:
        print("\nwrote %s; gnuplot failed: %s" % (path, r.stderr.strip()))


if __name__ == "__main__":
    main()
