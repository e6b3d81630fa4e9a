#!/usr/bin/env python3
"""Runs minilb and Knot DNS one after the other on loopback with the same dnsperf settings and prints one table.

Per server and round: start (time to the first answer), warm-up, UDP throughput (dnsperf at full speed),
latency percentiles at a fixed rate below both servers' capacity (dnsperf -v, every answer's latency),
TCP throughput, then RSS (VmRSS, VmHWM). Rounds alternate the servers; the table gives the median of the rounds.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--minilb", required=True, help="the minilb binary")
    p.add_argument("--data", required=True, help="directory from generate.py")
    p.add_argument("--domain", default="minilb")
    p.add_argument("--duration", type=int, default=10, help="seconds per throughput run (dnsperf -l)")
    p.add_argument("--clients", type=int, default=8, help="dnsperf -c")
    p.add_argument("--threads", type=int, default=1, help="dnsperf -T")
    p.add_argument("--outstanding", type=int, default=500, help="dnsperf -q")
    p.add_argument("--rate", type=int, default=10000, help="queries per second of the latency run (dnsperf -Q)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--port", type=int, default=15353)
    p.add_argument("--label", default="")
    p.add_argument("--minilb-args", default="", help="extra arguments for minilb serve")
    p.add_argument("--p99-runs", type=int, default=0,
                   help="instead of the table: both servers up at once, this many fixed-rate runs against each, alternating, every run printed")
    args = p.parse_args()

    queries = os.path.join(args.data, "queries.txt")
    servers = {
        "minilb": lambda port: [args.minilb, "serve", "--snapshot", os.path.join(args.data, "snapshot.yaml"),
                                "--listen", f"127.0.0.1:{port}", "--domain", args.domain] + args.minilb_args.split(),
        "knot": lambda port: knot_command(args, port),
    }
    if args.p99_runs:
        p99_series(servers, queries, args)
        return
    results = {name: [] for name in servers}
    for round_ in range(args.rounds):
        for name, command in servers.items():
            port = args.port + round_ * 2 + (0 if name == "minilb" else 1)
            print(f"[{name}, round {round_ + 1}/{args.rounds}, load {load()}]", file=sys.stderr, flush=True)
            results[name].append(measure(name, command(port), port, queries, args))

    table(results, args)


def knot_command(args, port):
    run = os.path.abspath(os.path.join(args.data, f"knot-{port}"))
    shutil.rmtree(run, ignore_errors=True)
    os.makedirs(run)
    shutil.copy(os.path.join(args.data, f"{args.domain}.zone"), run)
    with open(os.path.join(run, "knot.conf"), "w") as f:
        f.write(f"""server:
    rundir: {run}
    listen: 127.0.0.1@{port}
database:
    storage: {run}/db
zone:
  - domain: {args.domain}
    storage: {run}
    file: {args.domain}.zone
log:
  - target: stderr
    any: warning
""")
    return [shutil.which("knotd") or "/usr/sbin/knotd", "-c", os.path.join(run, "knot.conf")]


SETTLE_SECONDS = 12


def measure(name, command, port, queries, args):
    log = open(os.path.join(args.data, f"{name}-{port}.log"), "w")
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        first = first_answer(port, f"ns1.{args.domain}", started, process)
        dnsperf(port, queries, args, duration=2)  # warm-up: caches, JIT-free but page faults
        udp = dnsperf(port, queries, args, duration=args.duration)
        latency = fixed_rate_latency(port, queries, args)
        tcp = dnsperf(port, queries, args, duration=max(3, args.duration // 2), mode="tcp")
        rss, hwm = memory(process.pid)
        # minilb hands back what a burst grew once it has been quiet for an interval (Operator/IdleTrim.cs): the
        # resident size a quiet server settles at, measured for both servers alike.
        time.sleep(SETTLE_SECONDS)
        settled, hwm = memory(process.pid)
        return {"first": first, "qps": udp["qps"], "lost": udp["lost"], "avg": udp["avg"], "p50": latency[0],
                "p99": latency[1], "tcp": tcp["qps"], "rss": rss, "settled": settled, "hwm": hwm}
    finally:
        stop(process)
        log.close()


def first_answer(port, name, started, process, timeout=30.0):
    """Seconds from the process start to the first DNS answer (a query every 2 ms)."""
    query = struct.pack(">HHHHHH", 0x6d6c, 0, 1, 0, 0, 0) + b"".join(
        bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.002)
        while time.monotonic() - started < timeout:
            if process.poll() is not None:
                raise SystemExit(f"server exited with {process.returncode} before answering (see its log)")
            try:
                s.sendto(query, ("127.0.0.1", port))
                data = s.recv(4096)
                if data[:2] == query[:2]:
                    return time.monotonic() - started
            except (socket.timeout, ConnectionRefusedError):
                pass
    raise SystemExit(f"no answer on port {port} within {timeout} s")


def dnsperf(port, queries, args, duration, mode="udp"):
    out = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", queries, "-m", mode,
                          "-c", str(args.clients), "-T", str(args.threads), "-q", str(args.outstanding), "-l", str(duration)],
                         capture_output=True, text=True, check=True).stdout
    qps = float(re.search(r"Queries per second:\s+([\d.]+)", out).group(1))
    lost = re.search(r"Queries lost:\s+\d+ \(([\d.]+)%\)", out)
    avg = re.search(r"Average Latency \(s\):\s+([\d.]+)", out)
    return {"qps": qps, "lost": float(lost.group(1)) if lost else 0.0, "avg": float(avg.group(1)) if avg else 0.0}


def fixed_rate_latency(port, queries, args, details=False):
    """p50 and p99 in seconds over every answer of a run at --rate queries per second (with details: max, answers > 5 ms)."""
    out = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", queries, "-c", str(args.clients),
                          "-T", str(args.threads), "-Q", str(args.rate), "-l", "5", "-v"],
                         capture_output=True, text=True, check=True).stdout
    # "> NOERROR name type 0.000123" per answer; a timed-out query ("> T name type") has no latency.
    latencies = sorted(float(last) for last in (line.rsplit(" ", 1)[1] for line in out.splitlines() if line.startswith("> "))
                       if last.replace(".", "", 1).isdigit())
    if not latencies:
        return (float("nan"), float("nan")) + ((float("nan"), 0) if details else ())
    p50, p99 = latencies[len(latencies) // 2], latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return (p50, p99, latencies[-1], sum(1 for l in latencies if l > 0.005)) if details else (p50, p99)


def p99_series(servers, queries, args):
    """
    The p99 stalls: minilb and Knot run side by side (the same machine state for both), and fixed-rate runs
    alternate between them. Per run: p50, p99, max, answers slower than 5 ms, the time the server's threads
    waited for a CPU (run-queue delay from /proc/<pid>/task/*/schedstat, i.e. scheduling, not the server's code),
    and for minilb the garbage collections during the run when its /metrics is reachable (--health-listen).
    """
    ports = {"minilb": args.port, "knot": args.port + 1}
    processes, logs = {}, []
    try:
        for name, command in servers.items():
            log = open(os.path.join(args.data, f"{name}-p99.log"), "w")
            logs.append(log)
            started = time.monotonic()
            processes[name] = subprocess.Popen(command(ports[name]), stdout=log, stderr=subprocess.STDOUT)
            first_answer(ports[name], f"ns1.{args.domain}", started, processes[name])
            dnsperf(ports[name], queries, args, duration=2)  # warm-up
            alive(name, processes[name])
        metrics = metrics_url(args.minilb_args)
        print(f"p99 series: {args.p99_runs} fixed-rate runs per server at {args.rate:,} QPS (dnsperf -Q {args.rate} -c {args.clients} -l 5), "
              f"alternating; {os.cpu_count()} CPUs")
        ratios, samples = [], []
        for run in range(1, args.p99_runs + 1):
            row = {}
            for name in servers:
                pid = processes[name].pid
                loops = "dns-udp" if name == "minilb" else ""  # minilb's receive loops; Knot's every thread
                waited, loop_waited, gcs = run_queue_wait(pid), run_queue_wait(pid, loops), gc_count(metrics) if name == "minilb" else None
                p50, p99, worst, slow = fixed_rate_latency(ports[name], queries, args, details=True)
                waited, loop_waited = wait_between(waited, run_queue_wait(pid)), wait_between(loop_waited, run_queue_wait(pid, loops))
                gc = "" if gcs is None or gc_count(metrics) is None else f", GCs {gc_count(metrics) - gcs}"
                row[name] = p99
                samples.append((p99, waited))
                loop_part = f" (receive loops {loop_waited / 1e6:.0f} ms)" if loops else ""
                print(f"  run {run:2} {name:6}: p50 {p50 * 1000:.3f} ms, p99 {p99 * 1000:.3f} ms, max {worst * 1000:.1f} ms, "
                      f"{slow} answers > 5 ms, run-queue wait {waited / 1e6:.0f} ms{loop_part}{gc}; load {load()}", flush=True)
            for name, process in processes.items():
                alive(name, process)
            ratios.append(row["minilb"] / row["knot"] if row["knot"] else float("nan"))
        print(f"p99 minilb/Knot per run: {', '.join(f'{r:.2f}' for r in ratios)}; worst {max(ratios):.2f}, "
              f"runs within 1.5x: {sum(1 for r in ratios if r <= 1.5)}/{len(ratios)}; "
              f"correlation of p99 with run-queue wait over all runs: r = {correlation(*zip(*samples)):.2f}")
    finally:
        for process in processes.values():
            stop(process)
        for log in logs:
            log.close()


def stop(process):
    """SIGTERM (minilb stops gracefully), SIGKILL after 10 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def alive(name, process):
    """Another program answering on our port would be measured instead of the server: stop if ours is gone."""
    if process.poll() is not None:
        raise SystemExit(f"{name} exited with {process.returncode} (see its log); whatever answered on its port was not it")


def run_queue_wait(pid, prefix=""):
    """Per thread (those whose name starts with prefix), nanoseconds spent runnable but waiting for a CPU
    (schedstat field 2)."""
    waits = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/comm") as f:
                if not f.read().startswith(prefix):
                    continue
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                waits[task] = int(f.read().split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return waits


def wait_between(before, after):
    """The run-queue wait between two readings, over the threads in both (threads come and go)."""
    return sum(after[task] - before[task] for task in after.keys() & before.keys())


def correlation(xs, ys):
    """Pearson's r, or nan."""
    if len(xs) < 3:
        return float("nan")
    mx, my = statistics.mean(xs), statistics.mean(ys)
    sx, sy = sum((x - mx) ** 2 for x in xs) ** 0.5, sum((y - my) ** 2 for y in ys) ** 0.5
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / (sx * sy) if sx and sy else float("nan")


def metrics_url(minilb_args):
    match = re.search(r"--health-listen\s+(\S*?):(\d+)", minilb_args)
    return f"http://{match.group(1) or '127.0.0.1'}:{match.group(2)}/metrics" if match else None


def gc_count(url):
    """Garbage collections so far (all generations) from minilb's /metrics, or None."""
    if url is None:
        return None
    import urllib.request
    try:
        text = urllib.request.urlopen(url, timeout=2).read().decode()
    except OSError:
        return None
    # Generation 0 counts every collection (a gen-2 collection is one of gen 0 and 1 as well).
    counts = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith("dotnet_collection_count_total") and 'generation="0"' in line]
    return int(counts[0]) if counts else None


def memory(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    kib = lambda key: int(fields[key].split()[0]) / 1024
    return kib("VmRSS"), kib("VmHWM")


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def table(results, args):
    median = lambda name, key: statistics.median(r[key] for r in results[name])
    rows = [
        ("UDP QPS", "qps", "{:,.0f}", "higher"),
        ("UDP p50 latency at {:,} QPS (ms)".format(args.rate), "p50", "{:.3f}", "lower"),
        ("UDP p99 latency at {:,} QPS (ms)".format(args.rate), "p99", "{:.3f}", "lower"),
        ("UDP average latency at full speed (ms)", "avg", "{:.3f}", "lower"),
        ("UDP queries lost (%)", "lost", "{:.2f}", "lower"),
        ("TCP QPS", "tcp", "{:,.0f}", "higher"),
        ("RSS after load (MiB)", "rss", "{:.1f}", "lower"),
        (f"RSS {SETTLE_SECONDS} s after load (MiB)", "settled", "{:.1f}", "lower"),
        ("peak RSS, VmHWM (MiB)", "hwm", "{:.1f}", "lower"),
        ("start to first answer (ms)", "first", "{:.0f}", "lower"),
    ]
    scale = {"p50": 1000, "p99": 1000, "avg": 1000, "first": 1000}
    print()
    print(f"minilb vs Knot DNS {args.label}(dnsperf -c {args.clients} -T {args.threads} -q {args.outstanding} -l {args.duration}; "
          f"median of {args.rounds} rounds; load average now {load()} on {os.cpu_count()} CPUs)")
    print(f"| {'':42} | {'minilb':>12} | {'Knot DNS':>12} | {'minilb/Knot':>11} |")
    print(f"|{'-' * 44}|{'-' * 14}:|{'-' * 14}:|{'-' * 12}:|")
    for title, key, fmt, _ in rows:
        m = median("minilb", key) * scale.get(key, 1)
        k = median("knot", key) * scale.get(key, 1)
        ratio = f"{m / k:.2f}" if k else "-"
        print(f"| {title:42} | {fmt.format(m):>12} | {fmt.format(k):>12} | {ratio:>11} |")
    print()
    for name in results:
        print(f"{name} rounds: " + "; ".join(
            f"{r['qps']:,.0f} QPS, p99 {r['p99'] * 1000:.2f} ms, TCP {r['tcp']:,.0f}, RSS {r['rss']:.1f} / {r['settled']:.1f} MiB, first {r['first'] * 1000:.0f} ms"
            for r in results[name]))


if __name__ == "__main__":
    main()
