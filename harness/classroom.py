"""The class service (explorer.serving.class_service) as a child process, for tests and benchmarks:
start it on a free port with a given SQLite file and teacher secret, kill it (as a crash would)
and start it again on the same file.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from .voila import ROOT, free_port, stop_process_group, wait_until_answering


class ClassService:
    """One class service process; :meth:`start` again after :meth:`kill` reuses port and file."""

    def __init__(self, db, secret, port=None, log_path=None):
        self.db = Path(db)
        self.secret = secret
        self.port = port or free_port()
        self.log_path = log_path
        self.proc = None
        self._log = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/"

    def board_link(self):
        return f"{self.url}board?secret={self.secret}"

    def start(self, timeout=60):
        self._log = open(self.log_path, "a") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "explorer.serving.class_service", "--ip", "127.0.0.1",
             "--port", str(self.port), "--db", str(self.db)],
            cwd=ROOT, env={**os.environ, "CLASS_TEACHER_SECRET": self.secret},
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until_answering(self.proc, self.url + "healthz", timeout, self.log_path, "class service")
        return self

    def kill(self):
        """SIGKILL, as a crash or a pulled plug of the process would (no clean shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_log()

    def stop(self):
        if self.proc is not None:
            stop_process_group(self.proc, timeout=10)
        self._close_log()

    def _close_log(self):
        if hasattr(self._log, "close"):
            self._log.close()
        self._log = None


@contextlib.contextmanager
def class_service(db, secret, log_path=None, timeout=60):
    """A running :class:`ClassService`; stopped at the end."""
    service = ClassService(db, secret, log_path=log_path).start(timeout)
    try:
        yield service
    finally:
        service.stop()
