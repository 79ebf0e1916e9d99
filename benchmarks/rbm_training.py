"""Benchmark: RBM training speed for each method (one epoch = one pass over the data, scored).

Run (repository root): .venv/bin/python -m benchmarks.rbm_training
"""

import numpy as np

from benchmarks._timing import median_seconds, report
from explorer.rbm.datasets import bars_and_stripes, digits
from explorer.rbm.training import train

bas = bars_and_stripes(3)
kw = dict(learning_rate=0.2, momentum=0.9, seed=0, progress=False)
res = train(bas, 12, method="exact", epochs=1000, **kw)
print(f"shipped-model recipe: exact, 12 hidden, 1000 epochs -> mean ln p = "
      f"{res.log_likelihood[-1]:.4f} (optimum {-np.log(14):.4f})")
for method in ("exact", "cd1", "cd5", "pcd", "tap2", "tap3"):
    report(f"bars-and-stripes 3x3, 12 hidden, {method}, 100 epochs (full batch, exact score)",
           median_seconds(lambda m=method: train(bas, 12, method=m, epochs=100, **kw), repeats=3))
dig = digits()
report("digits 1797 x 64, 16 hidden, cd1, 1 epoch (batch 100, exact score over 2^16)",
       median_seconds(lambda: train(dig, 16, method="cd1", epochs=1, learning_rate=0.05,
                                    progress=False), repeats=3))
report("digits 1797 x 64, 64 hidden, pcd, 1 epoch (AIS score 100 x 1000)",
       median_seconds(lambda: train(dig, 64, method="pcd", epochs=1, learning_rate=0.01,
                                    progress=False), repeats=3))
