"""Benchmark: exact ln Z of a 20 x 200 RBM (2^20 enumerated states). Target <= 1.5 s, aim 0.5 s.

Run (repository root): .venv/bin/python -m benchmarks.rbm_exact
"""

import numpy as np

from benchmarks._timing import median_seconds, report
from explorer.rbm import RBM, log_partition, thermodynamics

rbm = RBM.random(20, 200, seed=0)
report("ln Z, 20 x 200, T = 1", median_seconds(lambda: log_partition(rbm), repeats=5), target=1.5)
report("ln Z, 20 x 200, T = 0.05 (stable low-T path)",
       median_seconds(lambda: log_partition(rbm, 0.05), repeats=3))
report("U, S, C as well, 20 x 200", median_seconds(lambda: thermodynamics(rbm), repeats=3))
small = RBM.random(12, 12, seed=0, weight_scale=2)
temps = np.geomspace(0.1, 10, 200)
report("thermodynamics on 200 temperatures, 12 x 12",
       median_seconds(lambda: thermodynamics(small, temps), repeats=9))
