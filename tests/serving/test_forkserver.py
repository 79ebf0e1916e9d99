"""The hub's fork server (explorer/serving/forkserver.py): kernels forked from a preloaded Python
behave as kernels started the usual way, and a start never depends on the fork server being up."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

import psutil
import pytest

from explorer.serving import forkserver
from harness.voila import ROOT

pytestmark = pytest.mark.slow

KERNEL_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def wait_for(predicate, timeout=60, what="condition"):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A fork server preloading what kernels need, on a socket in a fresh folder; yields (socket, Popen, log)."""
    folder = tmp_path_factory.mktemp("fork")
    sock = folder / "run" / "fork.sock"
    log = folder / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "explorer.serving.forkserver", "serve", "--socket", str(sock),
                                 "--kinds", "kernel"], cwd=ROOT, env={**os.environ, **KERNEL_ENV},
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: "ready on" in log.read_text() or proc.poll() is not None, 120, "the fork server")
        assert proc.poll() is None, log.read_text()
        yield sock, proc, log
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture
def kernelspec(tmp_path):
    """A JUPYTER_PATH whose kernel spec "python3" starts through the fork server's client."""
    spec = tmp_path / "share" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "explorer.serving.forkserver", "kernel", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python"}))
    return tmp_path / "share"


def start_kernel(kernelspec, socket_path, cwd, **env):
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.kernel_spec_manager.kernel_dirs = [str(kernelspec / "kernels")]
    full_env = {**os.environ, **KERNEL_ENV, forkserver.SOCKET_ENV: str(socket_path), **env}
    km.start_kernel(cwd=str(cwd), env=full_env)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


@contextlib.contextmanager
def running_kernel(kernelspec, socket_path, cwd, *, graceful=False, killed=False, **env):
    """``(km, kc)`` of a kernel started through ``kernelspec`` (forked when ``socket_path`` answers),
    stopped on leaving: shut down (``graceful``: asked to, not forced), or, where the test killed a
    process of it (``killed``), only its resources freed."""
    km, kc = start_kernel(kernelspec, socket_path, cwd, **env)
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        if killed:
            km.cleanup_resources()
        else:
            km.shutdown_kernel(now=not graceful)


def run(kc, code):
    """stdout of ``code`` run in the kernel."""
    out = []
    reply = kc.execute_interactive(code, timeout=60,
                                   output_hook=lambda m: out.append(m["content"].get("text", ""))
                                   if m["msg_type"] == "stream" else None)
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(out).strip()


def facts(kc):
    return json.loads(run(kc, "import os, json, numpy\n"
                              "print(json.dumps({'pid': os.getpid(), 'ppid': os.getppid(), 'cwd': os.getcwd(),"
                              " 'marker': os.environ.get('FORK_TEST_MARKER'), 'draw': numpy.random.rand(),"
                              " 'preloaded': 'explorer.app.rbm.explorer' in __import__('sys').modules}))"))


def test_a_forked_kernel_runs_with_the_clients_environment_folder_and_fresh_entropy(server, kernelspec, tmp_path):
    sock, proc, _ = server
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with running_kernel(kernelspec, sock, tmp_path / "a", graceful=True, FORK_TEST_MARKER="one") as (km1, kc1), \
            running_kernel(kernelspec, sock, tmp_path / "b", graceful=True, FORK_TEST_MARKER="two") as (_km2, kc2):
        one, two = facts(kc1), facts(kc2)
        # forked: a child of the fork server, with the explorer already imported
        assert one["ppid"] == proc.pid and two["ppid"] == proc.pid
        assert one["preloaded"] and two["preloaded"]
        # but with what its own start asked for
        assert (one["cwd"], one["marker"]) == (str(tmp_path / "a"), "one")
        assert (two["cwd"], two["marker"]) == (str(tmp_path / "b"), "two")
        assert one["draw"] != two["draw"]          # numpy's global generator reseeded in each
        # the process the kernel manager watches is the client, which stands in for the kernel
        assert km1.provisioner.process.pid != one["pid"]
    # a kernel asked to shut down ends, and its client ends with it, successfully
    assert km1.provisioner is None or not km1.is_alive()
    wait_for(lambda: not psutil.pid_exists(one["pid"]), 20, "the forked kernel to end")


def test_an_interrupt_reaches_the_forked_kernel(server, kernelspec, tmp_path):
    sock, _, _ = server
    with running_kernel(kernelspec, sock, tmp_path) as (km, kc):
        kc.execute("import time; time.sleep(60)")
        time.sleep(1.0)
        km.interrupt_kernel()
        t_end = time.monotonic() + 30
        while True:
            msg = kc.get_shell_msg(timeout=max(1, t_end - time.monotonic()))
            if msg["msg_type"] == "execute_reply":
                break
        assert msg["content"]["status"] == "error" and msg["content"]["ename"] == "KeyboardInterrupt"
        assert run(kc, "print(6 * 7)") == "42"     # and it goes on working


def test_a_killed_client_takes_its_forked_kernel_with_it(server, kernelspec, tmp_path):
    """The kernel manager kills the client (what it watches) outright: the kernel must not live on."""
    sock, _, _ = server
    with running_kernel(kernelspec, sock, tmp_path, killed=True) as (km, kc):
        kernel_pid = facts(kc)["pid"]
        os.kill(km.provisioner.process.pid, signal.SIGKILL)
        wait_for(lambda: not psutil.pid_exists(kernel_pid) or psutil.Process(kernel_pid).status() == "zombie",
                 20, "the orphaned kernel to end")


def test_a_killed_kernel_ends_its_client_by_the_same_signal(server, kernelspec, tmp_path):
    """What the kernel manager sees of a kernel that died (an out-of-memory kill): the same exit."""
    sock, _, _ = server
    with running_kernel(kernelspec, sock, tmp_path, killed=True) as (km, kc):
        kernel_pid = facts(kc)["pid"]
        os.kill(kernel_pid, signal.SIGKILL)
        assert km.provisioner.process.wait(timeout=20) == -signal.SIGKILL


def test_without_a_fork_server_the_kernel_starts_the_usual_way(kernelspec, tmp_path):
    with running_kernel(kernelspec, tmp_path / "no-such.sock", tmp_path) as (km, kc):
        got = facts(kc)
        # the client replaced itself with ipykernel_launcher: the kernel is the process started
        assert got["pid"] == km.provisioner.process.pid
        assert not got["preloaded"]


def test_a_start_whose_import_time_settings_differ_is_refused_and_runs_the_usual_way(server, kernelspec, tmp_path):
    """numpy reads OPENBLAS_NUM_THREADS when it is imported: a kernel that asks for another value
    must not get the fork server's."""
    sock, _, log = server
    with running_kernel(kernelspec, sock, tmp_path, OPENBLAS_NUM_THREADS="2") as (km, kc):
        got = facts(kc)
        assert got["pid"] == km.provisioner.process.pid and not got["preloaded"]


def test_garbage_on_the_socket_is_refused_and_the_server_goes_on(server):
    sock_path, proc, log = server
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(sock_path))
    s.sendall(b"\x00\x00\x00\x05hello")        # no standard streams passed, not JSON
    s.settimeout(15)
    assert s.recv(100) == b""                  # closed without a fork
    s.close()
    wait_for(lambda: "refused a request" in log.read_text(), 15, "the refusal in the log")
    assert proc.poll() is None


def test_only_its_user_may_reach_the_socket(server):
    sock_path, _, _ = server
    assert stat.S_IMODE(sock_path.parent.stat().st_mode) == 0o700


def test_the_client_without_a_socket_path_asks_its_caller_to_start_as_usual(tmp_path, monkeypatch):
    monkeypatch.delenv(forkserver.SOCKET_ENV, raising=False)
    assert forkserver.launch("kernel", []) is None
    assert forkserver.launch("kernel", [], socket_path=str(tmp_path / "absent.sock")) is None


def test_forking_is_refused_while_a_thread_runs():
    """A fork copies only the calling thread: a lock held by another one would stay held forever."""
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert any("threads" in p for p in forkserver.fork_safety_problems())
    finally:
        stop.set()
        t.join()


def test_every_preloaded_module_exists():
    import importlib.util

    missing = []
    for kind, names in forkserver.PRELOAD.items():
        for name in names:
            if importlib.util.find_spec(name) is None:
                missing.append(f"{kind}: {name}")
    assert not missing


def test_a_forked_kernel_has_the_comm_targets_of_a_fresh_one(server, kernelspec, tmp_path):
    """ipywidgets registers its comm targets (the widget manager's ``jupyter.widget.control``, which
    fetches every widget's state at once) when imported inside a kernel; the fork server imported
    it before any kernel ran. Without them a page falls back to slow per-widget requests."""
    sock, _, _ = server
    code = ("import ipywidgets, json; print(json.dumps(sorted(get_ipython().kernel.comm_manager.targets)))")
    targets = []
    for path in (sock, tmp_path / "no-such.sock"):      # forked, then the usual way
        with running_kernel(kernelspec, path, tmp_path) as (_km, kc):
            targets.append(json.loads(run(kc, code)))
    assert "jupyter.widget.control" in targets[1]
    assert targets[0] == targets[1]


def test_a_forked_kernel_writes_its_output_where_its_client_does_and_no_ctrl_c_note(server, kernelspec, tmp_path,
                                                                                  capfd):
    """The kernel's standard streams are its client's (the server's log), and it does not print
    ipykernel's note for kernels started without a parent (its parent watch is the client's)."""
    sock, _, _ = server
    with running_kernel(kernelspec, sock, tmp_path, graceful=True) as (_km, kc):
        run(kc, "import os; os.write(1, b'to-the-clients-stdout\\n'); os.write(2, b'to-the-clients-stderr\\n')")
    out, err = capfd.readouterr()
    assert "to-the-clients-stdout" in out and "to-the-clients-stderr" in err
    assert "Ctrl-C will not work" not in out + err
