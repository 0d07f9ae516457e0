#!/usr/bin/env python3
"""thread_cpu.py PID SECONDS [PORT]: CPU that process PID's threads spend over SECONDS, summed by
thread name (/proc/PID/task/*/comm and schedstat, nanoseconds on a CPU). With PORT, the window is
bench/paced_scrape.py scraping http://127.0.0.1:PORT/metrics once a second (its JSON is printed
first); without, the process is left alone. Used for BENCHMARKS.md's per-thread split of the
daemon's cost, e.g. inside bench/run.sh's scenario:
  WITH_SCENARIO='build/mobasher-agent run --config C --listen 127.0.0.1:19842 & sleep 3;
                 bench/thread_cpu.py $! 40; bench/thread_cpu.py $! 40 19842; kill $!' bench/run.sh
"""
import glob
import os
import subprocess
import sys
import time


def threads(pid):
    out = {}
    for task in glob.glob(f"/proc/{pid}/task/*"):
        try:
            with open(f"{task}/comm") as f:
                name = f.read().strip()
            with open(f"{task}/schedstat") as f:
                out[os.path.basename(task)] = (name, int(f.read().split()[0]))
        except (OSError, ValueError, IndexError):
            pass  # a thread that exited while listed
    return out


def main():
    if len(sys.argv) not in (3, 4):
        raise SystemExit(__doc__)
    pid, seconds = sys.argv[1], float(sys.argv[2])
    before = threads(pid)
    if len(sys.argv) == 4:
        here = os.path.dirname(os.path.abspath(__file__))
        run = subprocess.run([sys.executable, f"{here}/paced_scrape.py", sys.argv[3], pid, "1",
                              str(int(seconds))], capture_output=True, text=True, check=True)
        print(run.stdout.strip())
    else:
        time.sleep(seconds)
    after = threads(pid)
    by_name = {}
    for tid, (name, ns) in after.items():
        spent, count = by_name.get(name, (0, 0))
        by_name[name] = (spent + ns - before.get(tid, (name, 0))[1], count + 1)
    total = sum(ns for ns, _ in by_name.values())
    print(f"total {total / 1e3:.0f} us over {seconds:g} s ({total / 1e3 / seconds:.0f} us/s)")
    for name, (ns, count) in sorted(by_name.items(), key=lambda kv: -kv[1][0]):
        print(f"  {name:<20} threads={count:<3} {ns / 1e3:.0f} us")


if __name__ == "__main__":
    main()
