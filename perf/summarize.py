"""Medians of perf/bench.sh's JSON reports: a markdown table and a gnuplot PNG.

usage: summarize.py JSON_DIR OUT_PREFIX RUNS
"""
import glob
import json
import os
import statistics
import subprocess
import sys


def load(pattern):
    return [json.load(open(path)) for path in sorted(glob.glob(pattern))]


def median_by(reports, key):
    """The report whose `key` is the median (so a row is one real run)."""
    ordered = sorted(reports, key=key)
    return ordered[len(ordered) // 2]


def main():
    json_dir, out, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rates = sorted({int(os.path.basename(p).split("-")[2]) for p in glob.glob(f"{json_dir}/p2p-*.json")})
    lines = [f"# Load runs, {os.path.basename(out)}", "",
             f"Median of {runs} runs per cell (the run with the median delivered rate), from `perf/bench.sh`.", "",
             "## p2p: friend pairs across two chat servers, and the same shape on mosquitto (QoS 1)", "",
             "| system | offered msg/s | delivered msg/s | p50 ms | p90 | p99 | p999 | max | lost | refused |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    plot = {}
    for system, pattern in [("chat, embedded", "p2p-embedded"), ("chat, MariaDB", "p2p-mysql"), ("mosquitto QoS 1", "mqtt-mosquitto")]:
        for rate in rates:
            reports = [r["result"] for r in load(f"{json_dir}/{pattern}-{rate}-*.json")]
            if not reports:
                continue
            m = median_by(reports, lambda r: r["delivered_per_s"])
            l = m["latency_ms"]
            lines.append(f"| {system} | {m['offered_per_s']:.0f} | {m['delivered_per_s']:.0f} | {l['p50']:.2f} | "
                         f"{l['p90']:.2f} | {l['p99']:.2f} | {l['p999']:.2f} | {l['max']:.1f} | {m['lost']} | {m['refused']} |")
            plot.setdefault(system, []).append((m["offered_per_s"], m["delivered_per_s"], l["p50"], l["p99"]))
    lines += ["", "## conn: idle logged-in connections", "",
              "| store | connections | logged in | failed | login p50 ms | p99 | server bytes/conn (first run) |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for store in ["embedded", "mysql"]:
        reports = load(f"{json_dir}/conn-{store}-*.json")
        if reports:
            m = median_by(reports, lambda r: r["login_ms"]["p99"])
            # Only the first run meets fresh servers: later runs reuse memory
            # the allocator kept, so their difference is near zero.
            per_conn = max(r["server_bytes_per_connection"] for r in reports)
            lines.append(f"| {store} | {m['connections']} | {m['logged_in']} | {m['failed']} | {m['login_ms']['p50']:.2f} | "
                         f"{m['login_ms']['p99']:.2f} | {per_conn:.0f} |")
    lines += ["", f"![throughput and latency]({os.path.basename(out)}.png)", ""]
    open(f"{out}.md", "w").write("\n".join(lines))

    data_files = []
    for i, (system, points) in enumerate(plot.items()):
        path = f"{out}.{i}.dat"
        with open(path, "w") as f:
            for point in sorted(points):
                f.write(" ".join(str(v) for v in point) + "\n")
        data_files.append((system, path))
    script = [f'set terminal png size 1000,420', f'set output "{out}.png"', "set multiplot layout 1,2",
              'set xlabel "offered msg/s"', 'set format x "%.0f"', 'set xtics rotate by -30', 'set ylabel "delivered msg/s"', "set key left top", "set grid",
              "plot " + ", ".join(f'"{p}" using 1:2 with linespoints title "{s}"' for s, p in data_files),
              'set ylabel "latency, ms (p50 solid, p99 dashed)"', "set logscale y",
              "plot " + ", ".join(f'"{p}" using 1:3 with linespoints lt {i + 1} title "{s} p50", '
                                  f'"{p}" using 1:4 with linespoints lt {i + 1} dt 2 title "{s} p99"'
                                  for i, (s, p) in enumerate(data_files)),
              "unset multiplot"]
    subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True)
    for _, path in data_files:
        os.remove(path)


if __name__ == "__main__":
    main()
