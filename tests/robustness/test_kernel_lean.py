"""A student's kernel stays lean: the RBM explorer and the CLI never import torch (or other heavy
libraries) at import time. torch belongs to explorer.vae only (~1.5 s and ~300 MB per kernel)."""

import json
import subprocess
import sys

# jupyter_server and voila: the server-side pieces (explorer.serving.kernel_pacing) stay out of kernels
HEAVY = ["torch", "sklearn", "pandas", "matplotlib", "tqdm", "jupyter_server", "voila"]


def _modules_after(code):
    probe = code + f"\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_rbm_explorer_and_cli_import_no_heavy_library():
    code = ("import explorer, explorer.rbm, explorer.rbm.sweeps, explorer.rbm.sampling, explorer.views\n"
            "import importlib.util\n"
            "if importlib.util.find_spec('explorer.app'):\n    import explorer.app\n"
            "from explorer.cli import build_parser\nbuild_parser()")
    assert _modules_after(code) == []


def test_the_probe_sees_torch_when_the_vae_is_imported():
    # the check above can fail: importing the VAE layer's models and analyses does bring torch in
    assert "torch" in _modules_after("from explorer.vae import VAESession")


def test_the_vae_results_import_no_torch():
    # what the VAE layer returns (explorer.vae.results): the app holds the shipped numbers of its first
    # screen in these classes without the model
    assert _modules_after("import explorer.vae, explorer.vae.results") == []
