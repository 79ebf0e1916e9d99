"""Benchmark: the app's curves for a 12 x 12 RBM. Target: 200-point T sweep of exact, MF, TAP2,
TAP3 and series orders 1..8 under 100 ms.

Run (repository root): .venv/bin/python -m benchmarks.rbm_sweep
"""

import numpy as np

from benchmarks._timing import median_seconds, report
from explorer.rbm import RBM
from explorer.rbm.cumulants import cumulants_batch, reference_logits
from explorer.rbm.exact import exact_batch
from explorer.rbm.meanfield import mean_field_batch
from explorer.rbm.sweeps import lambda_sweep, temperature_sweep, weight_norm_sweep
from explorer.rbm.tap import tap_batch

rbm = RBM.random(12, 12, seed=0, weight_scale=2)
temps = np.geomspace(0.1, 10, 200)
report("temperature_sweep, 200 points, order 8", median_seconds(lambda: temperature_sweep(rbm, temps, order=8)),
       target=0.1)
print("  parts:")
report("    exact (F, U, C)", median_seconds(lambda: exact_batch(rbm, temps, moments=True)))
mf = mean_field_batch(rbm, temps)
report("    mean field (6 starts per layer)", median_seconds(lambda: mean_field_batch(rbm, temps)))
report("    TAP2", median_seconds(lambda: tap_batch(rbm, temps, order=2, start=mf, max_iter=0, fallback=False)))
report("    TAP3", median_seconds(lambda: tap_batch(rbm, temps, order=3, start=mf, max_iter=0, fallback=False)))
th = reference_logits(rbm, temps, mean_field=mf)
report("    cumulants 1..8",
       median_seconds(lambda: cumulants_batch(rbm, temps, order=8, theta_visible=th[0], theta_hidden=th[1])))
report("weight_norm_sweep, 200 points, order 8",
       median_seconds(lambda: weight_norm_sweep(rbm, np.linspace(0.05, 10, 200), order=8)))
report("lambda_sweep, 61 points, order 8",
       median_seconds(lambda: lambda_sweep(rbm, np.linspace(0, 1.5, 61), order=8)))
