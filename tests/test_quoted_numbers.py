"""Every number the VAE docs, the lessons and the preset texts quote from a random estimate agrees with
a recomputation (benchmarks/quoted_numbers.py).

The full computation behind the quoted numbers takes about 4 minutes (2 000 000 draws per IWAE digit,
100–200 seeds per k̂ statistic, every test digit). This test runs the script's quick mode: the same
seeds, fewer of them (IWAE: 50 groups of 5000 per digit instead of 400, 200 for digit 16, enough to
tell its expected 0.94 from the 0.67 of one pool; k̂: 20 and 40 seeds instead of 100 and 200; lesson
4's PCD runs: 10 seeds instead of 40; the statistics over digits on a seeded random 60 of the 359
digits, the F(λ) coverage on 30 of those), so its tolerances are wider: 3 × the combined standard
error of the quoted ± and the quick run; for a subset of digits 4 × the hypergeometric spread of a
fraction, or the distribution-free interval of a quantile; medians over fewer than 8 digits of the
subset are not checked (see the script's docstring). A number quoted as one seeded draw, or computed
without sampling, is recomputed exactly. Every seed is fixed: the result is the same on every run.
30–40 s on the 2-core machine.
"""

import pytest

from benchmarks import quoted_numbers as qn


def test_every_quoted_snippet_is_in_its_file():
    assert qn.missing_snippets() == []


def test_every_quoted_number_has_a_computation_and_a_date():
    for entry in qn.QUOTED:
        assert entry.numbers and entry.where, entry.key
    assert qn.DATE == "2026-12-06"


@pytest.mark.slow
def test_quoted_numbers_agree_with_a_recomputation():
    rows = qn.compare(qn.compute(quick=True))
    assert {(r[0], r[1]) for r in rows} == {(e.key, n) for e in qn.QUOTED for n in e.numbers}
    bad = [f"{key}.{name}: quoted {value:g} ± {pm:g}, computed {got:.4g} ± {se:.2g}, allowed [{lo:.4g}, {hi:.4g}]"
           for key, name, value, pm, got, se, lo, hi, ok in rows if not ok]
    assert not bad, "\n".join(bad)
