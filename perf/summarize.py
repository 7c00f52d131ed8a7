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
             f"Median of {runs} runs per cell (the run with the median delivered rate), from `perf/bench.sh`;",
             "the systems interleaved run by run.", ""]
    for when in ["start", "end"]:
        for f in load(f"{json_dir}/fsync-{when}.json"):
            lines.append(f"* This disk's fsync at the {when}: p50 {f['p50_ms']:.2f} ms, p99 {f['p99_ms']:.2f} ms.")
    lines += ["", "## p2p: friend pairs across two chat servers, and the same shape on mosquitto (QoS 1)", "",
              "Lateness is the load generator's own (from when a send was due to when it was written).", "",
              "| system | offered msg/s | delivered msg/s | p50 ms | p90 | p99 | p999 | max | lost | refused | lateness p50 ms | lateness p99 | MariaDB CPU us/msg |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    plot = {}
    for system, pattern in [("chat, embedded", "p2p-embedded"), ("chat, MariaDB", "p2p-mysql"), ("mosquitto QoS 1", "mqtt-mosquitto")]:
        for rate in rates:
            full = load(f"{json_dir}/{pattern}-{rate}-*.json")
            if not full:
                continue
            pick = median_by(full, lambda r: r["result"]["delivered_per_s"])
            m = pick["result"]
            l = m["latency_ms"]
            g = m.get("generator_lateness_ms", {"p50": 0, "p99": 0})
            cpus = [r["mariadb_cpu_us_per_message"] for r in full if "mariadb_cpu_us_per_message" in r]
            cpu = f"{statistics.median(cpus):.1f}" if cpus else ""
            lines.append(f"| {system} | {m['offered_per_s']:.0f} | {m['delivered_per_s']:.0f} | {l['p50']:.2f} | "
                         f"{l['p90']:.2f} | {l['p99']:.2f} | {l['p999']:.2f} | {l['max']:.1f} | {m['lost']} | {m['refused']} | "
                         f"{g['p50']:.3f} | {g['p99']:.3f} | {cpu} |")
            plot.setdefault(system, []).append((m["offered_per_s"], m["delivered_per_s"], l["p50"], l["p99"]))
    device_rows = []
    for store in ["embedded", "mysql"]:
        for devices in [1, 2]:
            full = load(f"{json_dir}/devices-{store}-{devices}-*.json")
            if not full:
                continue
            m = median_by(full, lambda r: r["result"]["delivered_per_s"])["result"]
            cpus = [r["mariadb_cpu_us_per_message"] for r in full if "mariadb_cpu_us_per_message" in r]
            cpu = f"{statistics.median(cpus):.1f}" if cpus else ""
            device_rows.append(f"| {store} | {devices} | {m['offered_per_s']:.0f} | {m['delivered_per_s']:.0f} | "
                               f"{m.get('delivered_by_device', [])} | {m.get('mirrored_to_senders_other_device', 0)} | "
                               f"{m['latency_ms']['p50']:.2f} | {m['latency_ms']['p99']:.2f} | {m['lost']} | {cpu} |")
    if device_rows:
        lines += ["", "## devices: each user on one device, or on two (different chat servers)", "",
                  "Delivered counts every receiving device; mirrored, the copies on the senders' other devices.", "",
                  "| store | devices per user | offered msg/s | delivered/s | delivered by device | mirrored | p50 ms | p99 | lost | MariaDB CPU us/msg |",
                  "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|"] + device_rows
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
