"""The VAE explorer's "Hold q" tab: how long a drag of q's mean takes, a fit, and the split's gaps per digit.

* drag (the issue's target: the −ELBO(q) readout updated within 150 ms): the explorer built in this
  process, the tab opened, then ``--moves`` new means written into the mean's Bokeh source exactly as
  BokehJS does when the student drags it; each timed until the readout and the bars hold the new bound
  (kernel side: Gauss–Hermite −ELBO(q), its error estimate, the ellipses, the bars and the readout;
  the browser's round trip, ~10-30 ms, comes on top);
* fit: "Fit q" for a few digits (diagonal then full covariance, L-BFGS, fresh each time);
* split: the gaps of a few digits as the whole-split computation does them (per digit; no cache).

Usage (repository root): .venv/bin/python -m benchmarks.vae_q_latency [--moves 40] [--digits 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import numpy as np

from benchmarks._timing import load_average, report

DRAG_TARGET_S = 0.150


def stats(times):
    return statistics.median(times), min(times), max(times)


def measure(moves=40, digits=3, index=16):
    from explorer.app.vae.explorer import VAEExplorer
    from explorer.vae import PointAnalysis, VAESession
    from explorer.vae.variational import VariationalPoint, split_gaps

    out = {"cpu_count": os.cpu_count(), "load_average_before": load_average()}
    session = VAESession()
    app = VAEExplorer(query=f"index={index}", session=session, prefetch=False)
    app.open_panel("hold_q")
    ctl = app.panels["hold_q"].render.__self__
    src = app.source("q_held_mean")
    rng = np.random.default_rng(0)
    mu0 = np.array(ctl.held[0])
    times = []
    for k in range(moves + 1):
        z = mu0 + 0.3 * rng.standard_normal(2)
        t0 = time.perf_counter()
        src.data = {"z1": [float(z[0])], "z2": [float(z[1])]}      # what a drag sends
        assert f"{ctl.terms.bound.neg_elbo:.4f}" in ctl.w_readout.value
        if k:                          # the first move warms torch up
            times.append(time.perf_counter() - t0)
    out["drag_s"] = stats(times)
    report(f"drag q's mean -> -ELBO(q) readout ({moves} moves, digit {index})", out["drag_s"], DRAG_TARGET_S)

    fit_times = []
    for i in range(digits):
        x, _ = session.test_image(i)
        vp = VariationalPoint(PointAnalysis(session.model64, x, n_samples=100, n_iwae=100))
        _ = vp.free_energy              # the quadrature of -ln p(x) is the split's, not the fit's
        t0 = time.perf_counter()
        vp.fit()
        fit_times.append(time.perf_counter() - t0)
    out["fit_s"] = stats(fit_times)
    report(f"Fit q (diagonal + full), {digits} digits", out["fit_s"])

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        split_gaps(session, indices=list(range(digits, 2 * digits)), progress=lambda d, n: None, directory=tmp,
                   use_cache=False)
        per_digit = (time.perf_counter() - t0) / digits
    out["split_per_digit_s"] = per_digit
    out["split_estimate_s"] = per_digit * session.n_test
    print(f"split gaps: {per_digit:.2f} s per digit (-ln p(x) quadrature + both fits) -> about "
          f"{per_digit * session.n_test / 60:.1f} min for the {session.n_test} test digits")
    out["load_average_after"] = load_average()
    print(f"load average before {out['load_average_before']}, after {out['load_average_after']} "
          f"({out['cpu_count']} CPUs)")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moves", type=int, default=40)
    ap.add_argument("--digits", type=int, default=3)
    ap.add_argument("--index", type=int, default=16)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    out = measure(args.moves, args.digits, args.index)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
