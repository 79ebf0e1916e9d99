"""Benchmark: training the default 2-D model on the CPU, against its converged test ELBO.

Target (issue 5): the default training reaches within 1 nat of the converged test ELBO in at most
60 s on the 2-core CPU (aim 30 s). "Converged" is a long reference run of the same architecture
(lr 1e-3, up to 3000 epochs, patience 300), which takes a minute or so. Reported: the whole default
run (until early stopping) and the first moment its test ELBO is within 1 nat (checked every 5 epochs,
the checks' own time excluded).

Usage (repository root): ``python -m benchmarks.vae_train_speed [--repeats 3] [--json]``
"""

import argparse
import json
import os
import statistics
import time

import torch

from explorer.vae import evaluate_elbo, load_digits_binary, train_vae


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--converged", type=float, default=None,
                    help="skip the reference run and use this converged test ELBO (from an earlier run)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    data = load_digits_binary()
    if args.converged is None:
        t = time.perf_counter()
        ref = train_vae(data, lr=1e-3, epochs=3000, patience=300, seed=0, device=args.device, progress=False)
        ref_s = time.perf_counter() - t
        converged = ref.metadata["final_test_elbo"]
        reference = {"seconds": ref_s, "test_elbo": converged, "epochs_run": ref.metadata["training"]["epochs_run"]}
    else:
        converged = args.converged
        reference = {"given": converged}
    runs = []
    for r in range(args.repeats):
        trace = {"eval_s": 0.0, "first_within_1_nat_s": None, "first_within_1_nat_epoch": None}
        t, cpu0, load0 = time.perf_counter(), time.process_time(), os.getloadavg()[0]

        def watch(epoch, model, train_elbo, val_elbo, t=t, trace=trace):
            # test ELBO every 5 epochs; its own cost is subtracted from the clock
            if trace["first_within_1_nat_s"] is not None or epoch % 5:
                return
            t0 = time.perf_counter()
            test = evaluate_elbo(model, data.test, n_samples=64)
            trace["eval_s"] += time.perf_counter() - t0
            if test >= converged - 1.0:
                trace["first_within_1_nat_s"] = time.perf_counter() - t - trace["eval_s"]
                trace["first_within_1_nat_epoch"] = epoch

        res = train_vae(data, seed=r, device=args.device, progress=False, callback=watch)   # the CLI's defaults
        runs.append({"seed": r, "seconds": time.perf_counter() - t - trace["eval_s"],
                     "cpu_seconds": time.process_time() - cpu0,     # includes the test-ELBO checks
                     "load_average_1min": [load0, os.getloadavg()[0]],
                     "test_elbo": res.metadata["final_test_elbo"],
                     "epochs_run": res.metadata["training"]["epochs_run"],
                     "first_within_1_nat_s": trace["first_within_1_nat_s"],
                     "first_within_1_nat_epoch": trace["first_within_1_nat_epoch"]})
    best = max([converged] + [r["test_elbo"] for r in runs])
    out = {
        "torch": torch.__version__, "train_threads": 1, "device": args.device,
        "default_runs": runs,
        "default_seconds_median": statistics.median(r["seconds"] for r in runs),
        "default_cpu_seconds_median": statistics.median(r["cpu_seconds"] for r in runs),
        "within_1_nat_seconds_median": statistics.median(
            r["first_within_1_nat_s"] if r["first_within_1_nat_s"] is not None else float("inf") for r in runs),
        "default_test_elbo_median": statistics.median(r["test_elbo"] for r in runs),
        "converged_test_elbo": best,
        "reference_run": reference,
        "worst_gap_nats": best - min(r["test_elbo"] for r in runs),
    }
    out["ok"] = out["worst_gap_nats"] <= 1.0 and max(r["seconds"] for r in runs) <= 60
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:>26}: {v}")


if __name__ == "__main__":
    main()
