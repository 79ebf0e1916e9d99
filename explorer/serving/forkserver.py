"""Start a hub's Python processes by forking one that has already imported what they need.

Why: in ``make hub`` every student's single-user server and each of its kernels is a fresh Python
process, and most of what such a process costs before it does anything is imports — measured here
(docs/hub.md): Jupyter Server, Voila and JupyterHub's single-user code ~2.2 CPU-s, a kernel with
numpy, Bokeh, ipywidgets and the explorer ~2.2 CPU-s. Thirty students logging in at 9:00 pay that
sixty times over on the same cores. A *fork server* imports it all once and forks a copy for each
start: the copy's imports cost nothing, and the pages they share stay shared (copy-on-write).

Two sides, both in this module (standard library only, so the client starts in milliseconds):

* :func:`serve` — the fork server (``python -m explorer.serving.forkserver serve --socket PATH``),
  a JupyterHub managed service of ``deploy/hub/jupyterhub_config.py``. It imports the modules of
  :data:`PRELOAD` and listens on a Unix socket in a folder only its user can enter.
* :func:`launch` — the client, which is the process the spawner or the kernel manager starts and
  watches (``deploy/hub/singleuser.py``; the hub's kernel spec runs ``python -m
  explorer.serving.forkserver kernel -f {connection_file}``). It sends its arguments, environment,
  working folder and standard streams (the file descriptors themselves) to the fork server, and
  then stands in for the forked process: it passes on the signals it gets (interrupt, terminate, …)
  and exits with the forked process's exit status. If the client is killed outright, the forked
  process notices that the connection closed and terminates itself.

When the fork server cannot be reached, or it answers with an error, the client runs the process
itself as before (``exec``): a fork server that is down makes starts slower, never broken.

What a fork keeps from the server and why that is safe here: the server never starts a thread, an
event loop, a ZMQ context or a BLAS thread pool (``OPENBLAS_NUM_THREADS=1``), and checks that before
each fork; the child replaces the environment, the arguments, the working folder and the standard
streams with the client's, starts a new session, reseeds numpy's global generator (Python's
``random`` reseeds itself at fork) and restores default signal handlers. What a preloaded module
does at import only inside a running kernel is done once the kernel runs: ipywidgets' comm targets
here; the explorer's own comm target (:mod:`explorer.app.core.frontend`) by the page's code, which
registers it when a page is shown. Modules that read the
environment when they are imported read the fork server's: the preloaded ones were checked (the
only ones that do, ``jupyterhub.singleuser``'s ``JUPYTERHUB_SINGLEUSER_APP`` and
``…_EXTENSION``, are compared with the client's and the client's start runs the usual way if they
differ). All forked processes share the server's string-hash seed.

Security: the socket's folder is mode 0700, so only the user who runs the hub (the same user whose
processes the students' servers already are, with ``SimpleLocalProcessSpawner``) can ask for a fork.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import sys
import time

#: What each kind of process imports before it is forked: the expensive part of its start.
PRELOAD = {
    "singleuser": (
        "jupyter_server.serverapp", "jupyter_server.services.kernels.kernelmanager",
        "jupyter_client.ioloop", "voila.app", "voila.server_extension",
        "voila.voila_kernel_manager", "nbconvert", "jupyterhub.services.auth",
        "jupyterhub.utils", "jupyterhub.singleuser",
        "explorer.serving.static_files", "explorer.serving.server_pool",
        # what a server imports while it starts (found by listing a forked server's new modules)
        "anyio._backends._asyncio", "anyio.streams.memory", "anyio.streams.stapled", "anyio.streams.tls",
        "tornado.platform.asyncio", "jinja2.ext", "jupyter_core.migrate", "ipykernel.kernelspec",
        "jupyter_server.kernelspecs.handlers", "jupyter_server.nbconvert.handlers",
        "jupyter_server.services.api.handlers", "jupyter_server.services.config.handlers",
        "jupyter_server.services.events.handlers", "jupyter_server.services.kernelspecs.handlers",
        "jupyter_server.services.nbconvert.handlers", "jupyter_server.services.security.handlers",
        "jupyter_server.services.sessions.handlers", "jupyter_server.services.shutdown",
        "jupyter_server.view.handlers", "mistune.plugins.def_list", "mistune.plugins.task_lists",
        "mistune.plugins.url",
    ),
    "kernel": (
        "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.comm", "IPython",
        "numpy", "bokeh.models", "bokeh.plotting", "bokeh.embed", "ipywidgets", "jupyter_bokeh",
        "explorer.serving.preheat", "explorer.serving.bokehjs",
        "explorer.app", "explorer.app.rbm.explorer", "explorer.app.lessons", "explorer.app.docs",
        # what a kernel imports while it starts and builds the explorer (found as above): the
        # debugger's modules, IPython's extras, the explorer's page request and scipy.special
        "ipykernel.debugger", "IPython.core.completerlib", "IPython.core.debugger",
        "IPython.core.oinspect", "IPython.extensions.storemagic", "tornado.platform.asyncio",
        "xmlrpc.client", "xmlrpc.server", "websockets.sync.client", "scipy.special",
        "explorer.serving.class_client", "explorer.views.resources",
    ),
}
#: Environment variables read when a preloaded module is imported: a client whose values differ
#: from the fork server's starts the usual way.
READ_AT_IMPORT = {
    "singleuser": ("JUPYTERHUB_SINGLEUSER_APP", "JUPYTERHUB_SINGLEUSER_EXTENSION"),
    "kernel": ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"),
}
SOCKET_ENV = "EXPLORER_FORKSERVER"
_HEADER = struct.Struct("!I")
_MAX_REQUEST = 1 << 20
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
              signal.SIGUSR2)


# -- the client --------------------------------------------------------------------------------

def _request(kind, args, socket_path):
    """Ask the fork server for a copy of ``kind``; the connected socket and the child's pid, or None."""
    if not socket_path:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(30)
        sock.connect(socket_path)
        body = json.dumps({"kind": kind, "argv": list(args), "env": dict(os.environ),
                           "cwd": os.getcwd()}).encode()
        socket.send_fds(sock, [_HEADER.pack(len(body)) + body], [0, 1, 2])
        line = _read_line(sock)
        if not line.startswith(b"pid "):
            sys.stderr.write(f"[forkserver] {line.decode(errors='replace')}: starting without it\n")
            sock.close()
            return None
        sock.settimeout(None)
        return sock, int(line[4:])
    except (OSError, ValueError) as exc:
        sock.close()
        if not isinstance(exc, (FileNotFoundError, ConnectionRefusedError)):
            sys.stderr.write(f"[forkserver] {exc!r}: starting without it\n")
        return None


def _read_line(sock):
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(256)
        if not chunk:
            break
        data += chunk
    return data.strip()


def _wait_for_exit(sock, pid):
    """The fork server's last line about ``pid``; meanwhile, end ``pid`` if our parent goes away.

    A kernel started the usual way watches the process that started it (ipykernel's parent poller,
    ``$JPY_PARENT_PID``) and ends with it; a forked kernel's parent is the fork server, so the
    client keeps that watch: when the Jupyter server that started it is gone, so is its kernel.
    """
    parent = os.getppid()
    sock.settimeout(1.0)
    data, orphaned = b"", None
    while not data.endswith(b"\n"):
        try:
            chunk = sock.recv(256)
        except TimeoutError:
            if os.getppid() != parent:
                orphaned = orphaned or time.monotonic()
                late = time.monotonic() - orphaned > 10
                try:
                    os.kill(pid, signal.SIGKILL if late else signal.SIGTERM)
                except ProcessLookupError:
                    return b"exit 1"
            continue
        if not chunk:
            break
        data += chunk
    return data.strip()


def launch(kind, args, socket_path=None):
    """Run ``kind`` (``"kernel"`` or ``"singleuser"``) with ``args`` through the fork server.

    Returns the exit status to exit with once the forked process has ended (a process killed by a
    signal makes this one end by the same signal), or None, at once, when there is no fork server
    (``socket_path`` and ``$EXPLORER_FORKSERVER`` unset, unreachable or refusing): the caller
    then starts the process the usual way.
    """
    socket_path = os.environ.get(SOCKET_ENV) if socket_path is None else socket_path
    got = _request(kind, args, socket_path)
    if got is None:
        return None
    sock, pid = got

    def forward(signum, _frame):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for signum in _FORWARDED:
        signal.signal(signum, forward)
    line = _wait_for_exit(sock, pid)    # "exit N" when the child ends; b"" if the server went away
    if line.startswith(b"exit "):
        code = int(line[5:])
        if code < 0:                # killed by signal -code: end the same way, as its parent sees it
            if -code not in (signal.SIGKILL, signal.SIGSTOP):
                signal.signal(-code, signal.SIG_DFL)
            os.kill(os.getpid(), -code)
        return code
    while True:                     # the server died first: follow the child until it has gone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return 0
        time.sleep(1.0)


# -- the fork server ---------------------------------------------------------------------------

def _preload(kinds, log):
    """Import what ``kinds`` need; the modules that failed are logged, not fatal."""
    sys.modules.setdefault("rfc3987_syntax", None)     # deploy/hub/singleuser.py says why
    for kind in kinds:
        for name in PRELOAD[kind]:
            try:
                __import__(name)
            except Exception as exc:    # a module that cannot load is the child's problem, not fatal
                log(f"preloading {name} failed: {exc!r}")


def fork_safety_problems():
    """Why forking this process now would be unsafe (threads, an event loop, a ZMQ context); [] if safe."""
    import threading
    problems = []
    if threading.active_count() != 1:
        problems.append(f"{threading.active_count()} threads")
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        try:
            # (the default policy keeps the loop set for this thread here; a loop made at import
            # would carry its selector's file descriptor into every fork)
            if asyncio.get_event_loop_policy()._local._loop is not None:
                problems.append("an asyncio event loop exists")
        except AttributeError:
            pass
    zmq = sys.modules.get("zmq")
    if zmq is not None and getattr(zmq.Context, "_instance", None) is not None:
        problems.append("a ZMQ context exists")
    return problems


def _receive_request(conn):
    data, fds, _flags, _addr = socket.recv_fds(conn, 65536, 3)
    if len(data) < _HEADER.size:
        raise ValueError("short request")
    (size,) = _HEADER.unpack_from(data)
    if size > _MAX_REQUEST:
        raise ValueError("request too large")
    body = data[_HEADER.size:]
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise ValueError("truncated request")
        body += chunk
    if len(fds) != 3:
        raise ValueError("the client's standard streams are missing")
    request = json.loads(body)
    if request.get("kind") not in PRELOAD:
        raise ValueError(f"unknown kind {request.get('kind')!r}")
    return request, fds


def _watch_client(conn):
    """In the child: terminate this process when the client goes away (killed, not just ended)."""
    import threading

    conn.settimeout(None)       # the server's copy had a timeout for reading the request

    def watch():
        try:
            while conn.recv(64):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="forkserver-client", daemon=True).start()


def _become(request, fds, conn, closing):
    """In the child: turn into the process the client asked for. Never returns."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for sock in closing:
            sock.close()
        os.setsid()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                       signal.SIGUSR2, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()       # a fresh process would have fresh entropy
        _watch_client(conn)
        code = _run(request["kind"], request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:       # reported as the process would have, then it exits
        import traceback
        traceback.print_exc()
        code = 1
    finally:
        try:
            import atexit
            atexit._run_exitfuncs()     # what a normal interpreter exit runs (os._exit does not)
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _run(kind, argv):
    if kind == "kernel":
        sys.argv = ["ipykernel_launcher", *argv]
        from ipykernel.kernelapp import IPKernelApp
        # what ipykernel_launcher runs, with one step between. ipykernel reads its parent's pid
        # ($JPY_PARENT_PID) when imported, here in the fork server, where there was none; the parent
        # watch is the client's (_wait_for_exit), so the kernel is told "1": no watch of its own
        # (its parent is the fork server) and no "Ctrl-C will not work" note in the server's log.
        app = IPKernelApp.instance(parent_handle=1)
        app.initialize(argv)
        # ipywidgets registers its comm targets when it is imported inside a running kernel; it was
        # imported in the fork server, where none ran: register them now, before any message
        if "ipywidgets" in sys.modules:
            sys.modules["ipywidgets"].register_comm_target()
        app.start()
        return 0
    sys.argv = ["jupyterhub-singleuser", *argv]
    from jupyterhub.singleuser import main
    return main() or 0


def serve(socket_path, kinds=tuple(PRELOAD), log=None):
    """Preload ``kinds``' modules and fork a process for each request on ``socket_path``. Runs until
    SIGTERM or SIGINT."""
    import selectors

    log = log or (lambda message: print(f"[forkserver] {message}", file=sys.stderr, flush=True))
    started = time.process_time()
    _preload(kinds, log)
    import gc
    gc.collect()
    gc.freeze()     # keep the preloaded objects out of the children's collections: pages stay shared
    problems = fork_safety_problems()
    if problems:
        raise RuntimeError(f"cannot fork safely after preloading: {', '.join(problems)}")
    environment = {kind: {name: os.environ.get(name) for name in READ_AT_IMPORT[kind]} for kind in kinds}

    folder = os.path.dirname(os.path.abspath(socket_path))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    if os.path.exists(socket_path):
        os.unlink(socket_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(64)
    wake_read, wake_write = socket.socketpair()
    wake_read.setblocking(False)
    wake_write.setblocking(False)
    signal.set_wakeup_fd(wake_write.fileno())
    stopping = []
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "listen")
    selector.register(wake_read, selectors.EVENT_READ, "wake")
    children = {}      # pid → the client's connection
    log(f"ready on {socket_path} ({', '.join(kinds)}; {time.process_time() - started:.1f} CPU-s to preload)")

    def reap():
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = children.pop(pid, None)
            if conn is not None:
                with contextlib.suppress(KeyError, ValueError):
                    selector.unregister(conn)
                with contextlib.suppress(OSError):
                    conn.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
                conn.close()

    def answer(conn):
        conn.settimeout(10)
        try:
            request, fds = _receive_request(conn)
        except (OSError, ValueError) as exc:
            log(f"refused a request: {exc}")
            conn.close()
            return
        kind = request["kind"]
        differs = [name for name, value in environment.get(kind, {}).items()
                   if request["env"].get(name) != value]
        problems = fork_safety_problems()
        if kind not in environment or differs or problems:
            reason = (f"{kind} is not preloaded" if kind not in environment else
                      f"{', '.join(differs)} differ from the fork server's" if differs else
                      ", ".join(problems))
            with contextlib.suppress(OSError):
                conn.sendall(f"refused: {reason}\n".encode())
            for fd in fds:
                os.close(fd)
            conn.close()
            return
        closing = [selector, listener, wake_read, wake_write, *children.values()]
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _become(request, fds, conn, closing)
        for fd in fds:
            os.close(fd)
        children[pid] = conn
        with contextlib.suppress(OSError):
            conn.sendall(f"pid {pid}\n".encode())
        conn.settimeout(None)
        selector.register(conn, selectors.EVENT_READ, "client")

    parent = os.getppid()
    try:
        while not stopping and os.getppid() == parent:     # the hub gone (killed): so is its fork server
            for key, _mask in selector.select(timeout=2):
                if key.data == "listen":
                    try:
                        conn, _ = listener.accept()
                    except OSError:
                        continue
                    answer(conn)
                elif key.data == "wake":
                    try:
                        while wake_read.recv(4096):
                            pass
                    except BlockingIOError:
                        pass
                else:     # a client's connection: readable only when the client has gone
                    conn = key.fileobj
                    try:
                        gone = not conn.recv(64, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        gone = False
                    except OSError:
                        gone = True
                    if gone:
                        selector.unregister(conn)
            reap()
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            os.unlink(socket_path)
        log("stopped")


def main(argv=None):
    import argparse

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["kernel"]:          # the kernel spec's command: as fast and plain as possible
        code = launch("kernel", argv[1:])
        if code is None:                # no fork server: the usual start, as ipykernel_launcher
            os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *argv[1:]])
        return code
    parser = argparse.ArgumentParser(prog="python -m explorer.serving.forkserver",
                                     description="Fork server for a hub's servers and kernels.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="preload and serve forks on a Unix socket")
    run.add_argument("--socket", default=os.environ.get(SOCKET_ENV), help="the socket's path")
    run.add_argument("--kinds", default=",".join(PRELOAD), help="what to preload (singleuser,kernel)")
    args = parser.parse_args(argv)
    if not args.socket:
        parser.error(f"--socket or ${SOCKET_ENV} is required")
    kinds = tuple(k for k in args.kinds.split(",") if k)
    unknown = [k for k in kinds if k not in PRELOAD]
    if unknown:
        parser.error(f"unknown kinds: {', '.join(unknown)} (known: {', '.join(PRELOAD)})")
    serve(args.socket, kinds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
