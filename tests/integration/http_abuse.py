#!/usr/bin/env python3
"""Abuse of the agent's HTTP server, for http_abuse_test.sh (issue 15, point 2).

usage: http_abuse.py PORT CHECK
  stalled N       open N connections that send half a request and stall; while they are open,
                  time GET /healthz and GET /metrics on fresh connections. Prints
                  "healthz_s=X metrics_s=Y healthz=CODE metrics=CODE stalled=N".
  garbage         send each malformed request on its own connection; print one line per case:
                  "CASE answer=<status line or 'closed'>".
Every socket has a timeout; nothing here waits without bound.
"""
import socket
import sys
import time

HOST = "127.0.0.1"


def connect(port, timeout=5.0):
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.settimeout(timeout)
    return s


def status_line(s):
    """The first line the server answers, or 'closed' when it closes without one."""
    data = b""
    try:
        while b"\r\n" not in data and len(data) < 4096:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        pass
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    return line if line else "closed"


def get(port, path, timeout=5.0):
    start = time.monotonic()
    try:
        s = connect(port, timeout)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        line = status_line(s)
        s.close()
    except OSError as e:
        line = f"error {e}"
    code = line.split(" ")[1] if line.startswith("HTTP/") else line
    return time.monotonic() - start, code


def stalled(port, n):
    held = []
    for _ in range(n):
        s = connect(port)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
        held.append(s)
    time.sleep(0.3)  # every one has reached a worker (or the queue)
    h_s, h = get(port, "/healthz")
    m_s, m = get(port, "/metrics")
    print(f"healthz_s={h_s:.3f} metrics_s={m_s:.3f} healthz={h} metrics={m} stalled={len(held)}")
    for s in held:
        s.close()


def send_case(port, name, payload):
    try:
        s = connect(port)
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may refuse before it has read everything
        answer = status_line(s)
        s.close()
    except OSError as e:
        answer = f"error {e}"
    print(f"{name} answer={answer}")


def garbage(port):
    cases = [
        ("garbage_line", b"\x00\x01\x02 garbage \xff\xfe\r\n\r\n"),
        ("no_version", b"GET /metrics\r\n\r\n"),
        ("bad_method", b"FROB /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("huge_uri", b"GET /metrics?" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("many_headers", b"GET /metrics HTTP/1.1\r\n"
         + b"".join(b"X-H%d: v\r\n" % i for i in range(5000)) + b"\r\n"),
        ("huge_header", b"GET /metrics HTTP/1.1\r\nX-Big: " + b"v" * 100_000 + b"\r\n\r\n"),
        ("negative_length", b"GET /metrics HTTP/1.1\r\nContent-Length: -5\r\n\r\n"),
    ]
    for path in ["/metrics", "/healthz", "/api/v1/status", "/api/v1/history", "/"]:
        for i, trav in enumerate(["/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                                  "/..%2f..%2fetc%2fshadow", "/./.././etc/shadow"]):
            cases.append((f"traversal{i}{path.replace('/', '_')}",
                          f"GET {path}{trav} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                          .encode()))
    for name, payload in cases:
        send_case(port, name, payload)


def main():
    port, check = int(sys.argv[1]), sys.argv[2]
    if check == "stalled":
        stalled(port, int(sys.argv[3]))
    elif check == "garbage":
        garbage(port)
    else:
        sys.exit(f"unknown check {check}")


if __name__ == "__main__":
    main()
