"""Shipped data sets: complete bars-and-stripes and binarised digits."""

import math

import numpy as np
import pytest
from sklearn.datasets import load_digits

from explorer.errors import InputError
from explorer.rbm.datasets import bars_and_stripes, digits, load_dataset, optimal_log_likelihood


def _is_bar_or_stripe(img):
    rows_uniform = np.all(img == img[:, :1], axis=1).all()     # every row constant: stripes
    cols_uniform = np.all(img == img[:1, :], axis=0).all()     # every column constant: bars
    return rows_uniform or cols_uniform


@pytest.mark.parametrize("n, count", [(2, 6), (3, 14), (4, 30)])
def test_bars_and_stripes_is_complete_and_distinct(n, count):
    x = bars_and_stripes(n)
    assert x.shape == (count, n * n) and x.dtype == np.float64
    assert set(np.unique(x)) == {0.0, 1.0}
    assert len(np.unique(x, axis=0)) == count
    assert all(_is_bar_or_stripe(row.reshape(n, n)) for row in x)
    # brute force: every n*n binary image that is a bar or stripe pattern is present
    idx = np.arange(1 << (n * n))
    all_imgs = ((idx[:, None] >> np.arange(n * n)) & 1).astype(float)
    valid = [img for img in all_imgs if _is_bar_or_stripe(img.reshape(n, n))]
    assert len(valid) == count
    assert optimal_log_likelihood(x) == pytest.approx(-math.log(count))


def test_bars_and_stripes_is_deterministic():
    np.testing.assert_array_equal(bars_and_stripes(3), bars_and_stripes(3))
    assert np.all(bars_and_stripes(3)[0] == 0)


@pytest.mark.parametrize("n", [1, 5, 0, -3, 3.0, "3", True, None])
def test_bars_and_stripes_rejects_other_sizes(n):
    with pytest.raises(InputError, match="2, 3, 4"):
        bars_and_stripes(n)


def test_digits_binarised_at_eight():
    x, y = digits(return_labels=True)
    raw = load_digits()
    assert x.shape == (1797, 64) and y.shape == (1797,)
    assert set(np.unique(x)) == {0.0, 1.0}
    np.testing.assert_array_equal(x, (raw.data >= 8).astype(float))
    np.testing.assert_array_equal(y, raw.target)
    # the threshold is inclusive: a pixel of exactly 8 is on
    assert np.all(x[raw.data == 8] == 1) and np.all(x[raw.data == 7] == 0)
    assert digits(threshold=0).sum() == x.size
    with pytest.raises(InputError):
        digits(threshold=float("nan"))
    with pytest.raises(InputError):
        digits(threshold="high")


def test_load_dataset():
    np.testing.assert_array_equal(load_dataset("bars-and-stripes"), bars_and_stripes(3))
    np.testing.assert_array_equal(load_dataset("bars-and-stripes", 4), bars_and_stripes(4))
    assert load_dataset("digits").shape == (1797, 64)
    with pytest.raises(InputError, match="unknown dataset"):
        load_dataset("mnist")
    with pytest.raises(InputError, match="size"):
        load_dataset("digits", 3)


def test_optimal_log_likelihood_with_repeats():
    x = np.array([[0, 1], [0, 1], [1, 1], [0, 0]])
    assert optimal_log_likelihood(x) == pytest.approx(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    assert optimal_log_likelihood(np.ones((3, 2))) == 0.0
    with pytest.raises(InputError):
        optimal_log_likelihood(np.zeros((0, 2)))
