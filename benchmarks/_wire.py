"""A slow link on the wire: a TCP proxy that delays and paces the bytes a browser and a server exchange.

Chromium's network emulation (CDP ``Network.emulateNetworkConditions``) throttles each request on
its own schedule and a websocket's messages after decompression (permessage-deflate's 76 kB of
widget state are charged as the 330 kB they inflate to). This proxy is the other model of the same
link: every connection of the page shares one pipe each way (``down`` and ``up`` bytes per
second, first come first served), each byte arrives half a round trip after it was sent, and a
new connection costs a round trip before its first byte goes (TCP's handshake). What crosses it
is what the server sent: compressed bodies, deflated websocket frames. TCP's slow start,
losses and the browser's own connection limits are not modelled (the latter are the browser's).

Usage (in a benchmark)::

    with wire_link(target_port, down=4e6 / 8, up=1e6 / 8, rtt=0.1) as port:
        ...  # the browser opens http://127.0.0.1:<port>/...
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time

CHUNK = 16 * 1024


class _Pipe:
    """One direction of the link: bytes leave in order of arrival at ``rate`` bytes per second,
    each chunk delivered ``delay`` seconds after its last byte left."""

    def __init__(self, rate, delay):
        self.rate, self.delay = rate, delay
        self.free_at = 0.0

    def schedule(self, n):
        """When ``n`` bytes handed over now arrive at the other end (monotonic seconds)."""
        now = time.monotonic()
        start = max(now, self.free_at)
        self.free_at = start + n / self.rate
        return self.free_at + self.delay


async def _forward(reader, writer, pipe, first_delay=0.0):
    """Copy ``reader`` to ``writer`` through ``pipe``, in order; ``first_delay`` before the first chunk."""
    queue: asyncio.Queue = asyncio.Queue()

    async def deliver():
        while True:
            item = await queue.get()
            if item is None:
                break
            at, data = item
            wait = at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    sender = asyncio.ensure_future(deliver())
    try:
        first = True
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            at = pipe.schedule(len(data)) + (first_delay if first else 0.0)
            first = False
            await queue.put((at, data))
        await queue.put(None)
        await sender
    except (ConnectionError, asyncio.CancelledError):
        sender.cancel()
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@contextlib.contextmanager
def wire_link(target_port, down, up, rtt, host="127.0.0.1"):
    """A proxy on a free loopback port to ``host:target_port`` with this link; yields its port."""
    loop = asyncio.new_event_loop()
    downstream, upstream = _Pipe(down, rtt / 2), _Pipe(up, rtt / 2)
    sock = socket.socket()
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    ready = threading.Event()

    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(host, target_port)
        except OSError:
            client_writer.close()
            return
        # the handshake's round trip before the browser's first bytes reach the server
        await asyncio.gather(_forward(client_reader, server_writer, upstream, first_delay=rtt),
                             _forward(server_reader, client_writer, downstream), return_exceptions=True)

    async def serve():
        stop = asyncio.Event()
        state["stop"] = stop
        server = await asyncio.start_server(handle, sock=sock)
        ready.set()
        async with server:
            await stop.wait()
        # connections still open (a browser's keep-alive ones): closed with the proxy
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    state = {}
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield port
    finally:
        loop.call_soon_threadsafe(state["stop"].set)
        thread.join(5)
        loop.close()
