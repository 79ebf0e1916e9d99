"""GPU check of the VAE path (run on a machine with CUDA; finishes in well under 3 minutes).

1. ``train_vae(device="cuda")`` for a few epochs: asserts the model, its data and its checkpoint
   metadata are on CUDA, and times an epoch.
2. The CLI on CUDA: ``python -m explorer vae-train --device cuda --epochs 20 ...``.
3. ``vae-report`` quantities computed on CUDA (float64) and on the CPU from the same checkpoint:
   they must agree (exact -ln p(x) to 1e-6 nats).
Prints one JSON object; exits non-zero on any failure.

Usage (repository root, a CUDA build of torch installed):
``python -m benchmarks.vae_cuda_check``
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import torch

from explorer.vae import VAESession, load_checkpoint, load_digits_binary, save_checkpoint, select_device, train_vae

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    out = {"torch": torch.__version__, "cuda_available": torch.cuda.is_available()}
    assert torch.cuda.is_available(), "CUDA is not available: this check needs a GPU"
    out["gpu"] = torch.cuda.get_device_name(0)
    assert select_device("auto").type == "cuda", "auto did not pick CUDA"
    tmp = tempfile.mkdtemp()
    data = load_digits_binary()

    t = time.perf_counter()
    res = train_vae(data, epochs=30, patience=0, seed=0, device="auto", progress=False)
    out["train_30_epochs_s"] = time.perf_counter() - t
    assert res.model.device.type == "cuda", f"model on {res.model.device}"
    assert res.metadata["training"]["device"].startswith("cuda")
    out["train_test_elbo"] = res.metadata["final_test_elbo"]
    ckpt = save_checkpoint(res.model, os.path.join(tmp, "cuda.pt"))

    t = time.perf_counter()
    cli = subprocess.run([sys.executable, "-m", "explorer", "vae-train", "--device", "cuda", "--epochs", "20",
                          "--patience", "0", "--out", os.path.join(tmp, "cli.pt"), "--json", "--no-progress"],
                         capture_output=True, text=True, cwd=ROOT, timeout=150)
    out["cli_train_s"] = time.perf_counter() - t
    assert cli.returncode == 0, cli.stderr[-2000:]
    cli_meta = json.loads(cli.stdout)
    assert cli_meta["training"]["device"].startswith("cuda"), cli_meta["training"]
    out["cli_train_test_elbo"] = cli_meta["final_test_elbo"]

    m = load_checkpoint(ckpt, device="cuda")
    assert m.device.type == "cuda"
    t = time.perf_counter()
    gpu = VAESession(ckpt, device="cuda").report(0, lam=0.5, order=4, temperature=2.0)
    out["report_cuda_s"] = time.perf_counter() - t
    t = time.perf_counter()
    cpu = VAESession(ckpt, device="cpu").report(0, lam=0.5, order=4, temperature=2.0)
    out["report_cpu_s"] = time.perf_counter() - t
    keys = ("exact_free_energy", "neg_elbo", "expected_energy", "entropy", "kl_prior", "kl_posterior")
    out["report_cuda"] = {k: gpu[k] for k in keys}
    out["max_abs_diff_cuda_vs_cpu"] = max(abs(gpu[k] - cpu[k]) for k in keys)
    out["temperature_cuda"] = gpu["temperature"]
    assert out["max_abs_diff_cuda_vs_cpu"] < 1e-6, out
    assert gpu["neg_elbo"] >= gpu["exact_free_energy"]
    out["ok"] = True
    print(json.dumps(out, indent=2, default=float))


if __name__ == "__main__":
    main()
