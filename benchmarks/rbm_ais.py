"""Benchmark: AIS with 200 chains x 10,000 steps on a 64 x 16 RBM. Target <= 10 s (median).

Also times reverse AIS, importance sampling and CD-k at the same size, and checks that the AIS
estimate agrees with the exact ln Z (2^16 hidden states enumerated).

Run (repository root): .venv/bin/python -m benchmarks.rbm_ais
"""

from benchmarks._timing import median_seconds, report
from explorer.rbm import RBM, log_partition
from explorer.rbm.sampling import (
    ais_log_partition,
    cd_correlation,
    exact_samples,
    gibbs_sample,
    importance_log_partition,
    reverse_ais_log_partition,
)

rbm = RBM.random(64, 16, seed=0)
exact = log_partition(rbm)
res = ais_log_partition(rbm, n_chains=200, n_steps=10_000, seed=0)
print(f"64 x 16, T = 1: exact ln Z = {exact:.5f}, AIS = {res.log_partition:.5f} "
      f"± {res.stderr:.5f} (error {res.log_partition - exact:+.5f})")
report("AIS forward, 200 chains x 10,000 steps, 64 x 16",
       median_seconds(lambda: ais_log_partition(rbm, n_chains=200, n_steps=10_000, seed=0),
                      repeats=5), target=10.0)
report("AIS forward, sigmoid schedule, data base, same size",
       median_seconds(lambda: ais_log_partition(rbm, n_chains=200, n_steps=10_000, seed=0,
                                                schedule="sigmoid", base="data",
                                                data=res.samples), repeats=3))
starts = exact_samples(rbm, 200, seed=1)[0]
report("AIS reverse from 200 exact samples x 10,000 steps",
       median_seconds(lambda: reverse_ais_log_partition(rbm, starts, n_chains=None,
                                                        n_steps=10_000, seed=0), repeats=3))
report("importance sampling, 100,000 samples (mean-field proposal included)",
       median_seconds(lambda: importance_log_partition(rbm, n_samples=100_000, seed=0), repeats=5))
report("Gibbs, 200 chains x 10,000 sweeps",
       median_seconds(lambda: gibbs_sample(rbm, n_chains=200, n_steps=10_000, seed=0), repeats=3))
report("CD-10 estimate of E[v h^T] from 1,000 rows (with the exact value)",
       median_seconds(lambda: cd_correlation(rbm, starts.repeat(5, axis=0), k=10, seed=0),
                      repeats=5))
