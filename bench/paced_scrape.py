#!/usr/bin/env python3
"""paced_scrape.py PORT PID INTERVAL_S COUNT: scrape http://127.0.0.1:PORT/metrics once every
INTERVAL_S seconds, COUNT times, over one keep-alive connection (made anew when the server
closes it, as Prometheus does), and print what the server process PID spent meanwhile, as JSON.

CPU is the sum over PID's threads of /proc/PID/task/*/schedstat (nanoseconds on a CPU; the
10 ms ticks of /proc/PID/stat are too coarse for a cycle of about a millisecond). A thread that
exits during the window takes its time with it; the servers measured here keep their threads.
When the body has mobasher_scans_total, the scans made in the window are counted from it.
Used by bench/run.sh (step 6) for the agent and for prometheus-process-exporter alike.
"""
import glob
import http.client
import json
import re
import sys
import time

SCANS = re.compile(rb"^mobasher_scans_total(?:\{[^}]*\})? ([0-9.e+]+)$", re.M)


def cpu_ns(pid):
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that exited while listed
    return total


class Scraper:
    def __init__(self, port):
        self.port, self.conn, self.connects = port, None, 0

    def get(self):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                self.connects += 1
            try:
                self.conn.request("GET", "/metrics")
                resp = self.conn.getresponse()
                body = resp.read()
                if resp.status != 200:
                    raise SystemExit(f"paced_scrape: HTTP {resp.status} from port {self.port}")
                if resp.will_close:
                    self.conn.close()
                    self.conn = None
                return body
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")


def scans(body):
    m = SCANS.search(body)
    return float(m.group(1)) if m else None


def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    port, pid, interval, count = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    s = Scraper(port)
    for _ in range(3):  # warm-up: the first requests touch the server's buffers
        s.get()
        time.sleep(interval)
    s.connects = 0
    first = scans(s.get())
    c0, t0 = cpu_ns(pid), time.monotonic()
    last = first
    for i in range(1, count + 1):
        delay = t0 + i * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        last = scans(s.get())
    c1, t1 = cpu_ns(pid), time.monotonic()
    out = {"scrapes": count, "seconds": round(t1 - t0, 3), "cpu_us": round((c1 - c0) / 1e3, 1),
           "cpu_us_per_scrape": round((c1 - c0) / 1e3 / count, 1), "connects": s.connects}
    if first is not None and last is not None and last > first:
        out["scans"] = int(last - first)
        out["cpu_us_per_scan"] = round((c1 - c0) / 1e3 / (last - first), 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
