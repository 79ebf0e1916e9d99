"""Benchmark: exact -ln p(x) of one test point (quadrature) on the CPU, and the full report.

Target (issue 5): exact -ln p(x) for one point in under 0.3 s on CPU. Each timing builds a fresh
:class:`PointAnalysis` (no cache): encode, locate the posterior, refine to 1e-4 nats.

Usage (repository root): ``python -m benchmarks.vae_exact_speed [--points 40] [--json]``
"""

import argparse
import json
import os
import statistics
import time

import numpy as np
import torch

from explorer.vae import VAESession
from explorer.vae.analysis import PointAnalysis

CPU = []   # process CPU seconds of each timed call: robust to other jobs sharing the machine


def timed(fn):
    t, c = time.perf_counter(), time.process_time()
    fn()
    CPU.append(time.process_time() - c)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=40)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    s = VAESession(device="cpu")
    idx = np.linspace(0, s.n_test - 1, args.points).astype(int)
    exact_t, report_t, explore_t, lam_t = [], [], [], []
    for i in idx:
        x, _ = s.test_image(i)
        exact_t.append(timed(lambda x=x: PointAnalysis(s.model64, x).exact.free_energy))
    exact_cpu = list(CPU)
    for i in idx[:10]:
        x, _ = s.test_image(i)
        report_t.append(timed(lambda x=x: PointAnalysis(s.model64, x).report(0.5, 4, 2.0)))
        pa = PointAnalysis(s.model64, x)
        pa.report()
        lam_t.append(timed(lambda pa=pa: pa.lam_curve([0.7])))     # a λ-slider move on a cached point
    for i in idx[:3]:
        x, _ = s.test_image(i)
        explore_t.append(timed(lambda x=x: PointAnalysis(s.model64, x).explore()))
    out = {
        "torch": torch.__version__, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "exact_free_energy_s": {"median": statistics.median(exact_t), "p90": float(np.percentile(exact_t, 90)),
                                "max": max(exact_t), "n": len(exact_t),
                                "cpu_median": statistics.median(exact_cpu)},
        "full_report_s": {"median": statistics.median(report_t), "n": len(report_t)},
        "lambda_slider_move_s": {"median": statistics.median(lam_t), "n": len(lam_t)},
        "explore_default_s": {"median": statistics.median(explore_t), "n": len(explore_t)},
        "target_exact_s": 0.3,
        "ok": statistics.median(exact_t) < 0.3,
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:>24}: {v}")


if __name__ == "__main__":
    main()
