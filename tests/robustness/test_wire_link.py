"""The slow link of benchmarks/network.py --wire (benchmarks/_wire.py) is a faithful pipe.

It must pass every byte unchanged, both ways, and never deliver faster than the link it models:
``n`` bytes down take at least n / rate plus a round trip for the connection and half a round
trip for the request (lower bounds only: a busy machine may always be slower).
"""

from __future__ import annotations

import socket
import threading
import time

from benchmarks._wire import _Pipe, wire_link


def _server(payload):
    """A loopback server that reads one request line and answers ``payload``; returns its port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)

    def serve():
        conn, _ = sock.accept()
        with conn:
            buf = b""
            while not buf.endswith(b"\n"):
                buf += conn.recv(1024)
            conn.sendall(payload + buf)          # the answer, then the request echoed
        sock.close()

    threading.Thread(target=serve, daemon=True).start()
    return sock.getsockname()[1]


def test_bytes_cross_unchanged_and_no_faster_than_the_link():
    payload = bytes(range(256)) * 400            # 100 kB
    port = _server(payload)
    down, rtt = 200_000.0, 0.1
    with wire_link(port, down=down, up=50_000.0, rtt=rtt) as proxy_port:
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", proxy_port), timeout=30) as c:
            c.sendall(b"GET please\n")
            got = b""
            while len(got) < len(payload) + 11:
                chunk = c.recv(65536)
                if not chunk:
                    break
                got += chunk
        elapsed = time.monotonic() - t0
    assert got == payload + b"GET please\n"
    assert elapsed >= len(payload) / down + rtt + rtt / 2 - 0.01


def test_one_pipe_is_shared_first_come_first_served():
    pipe = _Pipe(rate=1000.0, delay=0.05)
    t = time.monotonic()
    first = pipe.schedule(500)                  # 0.5 s on the link
    second = pipe.schedule(500)                 # queued behind the first
    assert first >= t + 0.5 + 0.05 - 1e-3
    assert abs((second - first) - 0.5) < 1e-6
