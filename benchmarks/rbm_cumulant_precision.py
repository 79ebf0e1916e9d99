"""Measure the precision of the exact cumulants against 60-digit brute-force arithmetic.

Prints, for each order n, the largest relative error of kappa_n over a set of small models,
temperatures and both references (the numbers quoted in the README).

Run (repository root): .venv/bin/python -m benchmarks.rbm_cumulant_precision
"""

import numpy as np

from explorer.rbm import RBM
from explorer.rbm.cumulants import cumulants_batch, reference_logits
from harness.brute_force import brute_cumulants  # the 60-digit reference the tests use too

ORDER = 12
worst = np.zeros(ORDER)
cases = 0
for shape, seed in (((3, 4), 0), ((5, 2), 1), ((4, 4), 2), ((2, 6), 3)):
    for norm in (0.3, 1.0, 3.0):
        rbm = RBM.random(*shape, seed=seed).with_weight_norm(norm)
        for t in (0.3, 1.0, 3.0):
            for ref in ("mean-field", "independent"):
                th_v, th_h = reference_logits(rbm, [t], reference=ref)
                got = cumulants_batch(rbm, [t], order=ORDER, theta_visible=th_v, theta_hidden=th_h)["kappa"][0]
                want = brute_cumulants(rbm, t, th_v[0], th_h[0], ORDER)
                floor = 1e-12 * np.sqrt(want[1]) ** np.arange(1, ORDER + 1)
                worst = np.maximum(worst, np.abs(got - want) / np.maximum(np.abs(want), floor))
                cases += 1
print(f"{cases} cases (4 shapes x 3 weight norms x 3 temperatures x 2 references)")
for n, err in enumerate(worst, start=1):
    print(f"order {n:2d}: max relative error {err:.1e}")
