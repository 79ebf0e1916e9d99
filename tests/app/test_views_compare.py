"""The comparators of shipped and fresh numbers: a difference column is held to the size of its
operands (rounding on another CPU passes), and a real change still fails."""

from __future__ import annotations

import numpy as np
import pytest

from .views_compare import assert_same_tree


def _tree(gap_shift=0.0, f_shift=0.0):
    f = np.array([-17.0, -16.5]) + f_shift
    return {"curves": {"exact": f, "f_tap2": np.array([1.17e-5, 2.0e-6]) + gap_shift, "order": 4},
            "point": {"temperature": 1.0, "gap": 1.17e-5 + gap_shift}}


def test_another_kernels_rounding_of_a_difference_passes():
    # TAP2 − exact ≈ 1.17e-5 from two F ≈ −17: another BLAS kernel moves it by ~1e-14
    assert_same_tree(_tree(), _tree(gap_shift=1.4e-14), rtol=1e-10)


@pytest.mark.parametrize("changes", [dict(gap_shift=1e-8), dict(f_shift=1e-7)])
def test_a_real_change_fails(changes):
    with pytest.raises(AssertionError):
        assert_same_tree(_tree(), _tree(**changes), rtol=1e-10)


def test_rtol_zero_is_exact():
    with pytest.raises(AssertionError):
        assert_same_tree(_tree(), _tree(gap_shift=1e-18), rtol=0.0)
