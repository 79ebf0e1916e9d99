"""The CLI's modules import one way: explorer.cli imports the commands, never the reverse."""

import subprocess
import sys


def test_command_modules_do_not_import_the_dispatcher():
    code = ("import pkgutil, importlib, sys, explorer.commands as c\n"
            "names = [m.name for m in pkgutil.iter_modules(c.__path__)]\n"
            "for n in names:\n    importlib.import_module('explorer.commands.' + n)\n"
            "assert 'explorer.cli' not in sys.modules, 'a command module imports explorer.cli'\n"
            "print(len(names))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 4        # rbm_report, rbm_train, vae_report, vae_train (and _output)
