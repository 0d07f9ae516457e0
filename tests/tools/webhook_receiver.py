#!/usr/bin/env python3
"""A loopback webhook receiver for the alerting integration tests (python3 stdlib only).

Every request (except GET /__health) is appended to --out as one JSON line, flushed at once:
  {"t": receipt unix time, "method": ..., "path": ..., "headers": {...}, "body": parsed JSON or null,
   "raw": the body text when it is not JSON, "mode": the mode used, "code": the status answered}
The "hang" line has "code": null: it is written when the request arrives, and the request is
then never answered.

Modes: ok (200), 500, 400, hang (read the request, never answer). The mode is --mode, unless
--mode-file names a file with a mode in it: that file is read on every request, so a test
switches the mode at runtime with `echo ok >FILE`. GET /__health always answers 200, whatever the
mode, so a test can wait until the receiver is up.

The process is bounded: it exits after --max-seconds (default 600) whatever happens.
usage: webhook_receiver.py --port N --out FILE [--mode ok|500|400|hang] [--mode-file FILE]
                           [--host 127.0.0.1] [--max-seconds 600]
"""

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("ok", "500", "400", "hang")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--out", required=True)
    ap.add_argument("--mode", default="ok", choices=MODES)
    ap.add_argument("--mode-file")
    ap.add_argument("--max-seconds", type=float, default=600)
    args = ap.parse_args()

    out = open(args.out, "a", encoding="utf-8")
    lock = threading.Lock()
    stop = threading.Event()

    def current_mode():
        if args.mode_file:
            try:
                with open(args.mode_file, encoding="utf-8") as f:
                    m = f.read().strip()
                if m in MODES:
                    return m
            except OSError:
                pass
        return args.mode

    def record(entry):
        with lock:
            out.write(json.dumps(entry, sort_keys=True) + "\n")
            out.flush()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive like real receivers; every answer has a length

        def log_message(self, fmt, *a):  # no stderr noise per request
            pass

        def read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n > 0 else b""

        def answer(self, code, text):
            data = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

        def handle_any(self):
            t = time.time()
            if self.command == "GET" and self.path == "/__health":
                self.read_body()
                self.answer(200, "ok\n")
                return
            raw = self.read_body()
            text = raw.decode("utf-8", errors="replace")
            try:
                body = json.loads(text) if text else None
                rawtext = None
            except ValueError:
                body, rawtext = None, text
            mode = current_mode()
            code = {"ok": 200, "500": 500, "400": 400, "hang": None}[mode]
            entry = {"t": t, "method": self.command, "path": self.path,
                     "headers": {k: v for k, v in self.headers.items()},
                     "body": body, "mode": mode, "code": code}
            if rawtext is not None:
                entry["raw"] = rawtext
            record(entry)
            if mode == "hang":
                # Never answer; keep the connection open until the client gives up or we exit.
                stop.wait(args.max_seconds)
                self.close_connection = True
                return
            self.answer(code, {200: "ok\n", 500: "internal error (test receiver in 500 mode)\n",
                               400: "bad request (test receiver in 400 mode)\n"}[code])

        do_POST = do_PUT = do_GET = handle_any

    class Server(ThreadingHTTPServer):
        daemon_threads = True  # a hanging handler never keeps the process alive
        allow_reuse_address = True

    try:
        srv = Server((args.host, args.port), Handler)
    except OSError as e:
        print(f"webhook_receiver: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1

    def deadline():
        if not stop.wait(args.max_seconds):
            print(f"webhook_receiver: --max-seconds {args.max_seconds} reached, exiting", file=sys.stderr)
            sys.stderr.flush()
            os._exit(0)

    threading.Thread(target=deadline, daemon=True).start()
    print(f"listening {args.host}:{args.port} mode={current_mode()}", flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
