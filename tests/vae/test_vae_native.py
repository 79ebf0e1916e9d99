"""explorer.vae.native: torch's libraries loaded with the interpreter lock released, and the same
libraries as a plain ``import torch`` (each check in a fresh interpreter: the test process may
have imported torch already)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from harness.voila import ROOT

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the preload is Linux only")


def run_python(code, timeout=120):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


LOADED_LIBRARIES = """
    import torch
    torch.ones(3).sum().item()
    print(sorted({line.split()[-1] for line in open("/proc/self/maps") if ".so" in line}))
"""


def test_the_import_after_the_preload_uses_the_same_libraries_as_a_plain_import():
    plain = run_python(LOADED_LIBRARIES)
    preloaded = run_python(textwrap.dedent("""
        from explorer.vae.native import LIBRARIES, load_torch_libraries
        loaded = load_torch_libraries()
        assert loaded == tuple(name for name, _ in LIBRARIES), loaded
    """) + textwrap.dedent(LOADED_LIBRARIES))
    assert plain.returncode == 0 and preloaded.returncode == 0, plain.stderr + preloaded.stderr
    assert preloaded.stdout == plain.stdout
    assert "libtorch_cpu.so" in plain.stdout


def test_nothing_is_loaded_once_torch_is_imported_or_without_torch():
    done = run_python("""
        import torch
        from explorer.vae.native import load_torch_libraries
        assert load_torch_libraries() == ()
        import explorer.vae.native as native
        native.torch_library_folder = lambda: None
        del __import__("sys").modules["torch"]
        assert native.load_torch_libraries() == ()
    """)
    assert done.returncode == 0, done.stderr


def test_the_lock_is_released_while_a_library_loads(tmp_path):
    """Deterministic, no timing: the "library" is a named pipe, so the loader's open() waits until
    the main thread opens the pipe's other end and writes. The main thread can do that only if the
    loading thread has released the interpreter lock; held, both wait for ever (the subprocess's
    timeout fails the test). The bytes are not a library: the load then fails and stops."""
    done = run_python(f"""
        import os, threading
        import explorer.vae.native as native
        folder = {str(tmp_path)!r}
        os.mkfifo(os.path.join(folder, native.LIBRARIES[0][0]))
        native.torch_library_folder = lambda: folder
        result = []
        loader = threading.Thread(target=lambda: result.append(native.load_torch_libraries()))
        loader.start()
        with open(os.path.join(folder, native.LIBRARIES[0][0]), "wb") as pipe:   # the loader's other end
            pipe.write(b"not a library")
        loader.join()
        assert result == [()], result
        print("released")
    """, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "released", done.stderr
