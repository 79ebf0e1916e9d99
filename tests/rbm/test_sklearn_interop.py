"""scikit-learn BernoulliRBM interop: import, exact ln Z and ln p, export round trip."""

import numpy as np
import pytest
from scipy.special import expit, logsumexp
from sklearn.neural_network import BernoulliRBM

from explorer.errors import InputError
from explorer.rbm import RBM, clamped_free_energy, log_likelihood, log_partition
from explorer.rbm.datasets import bars_and_stripes, digits
from explorer.rbm.exact import all_states


@pytest.fixture(scope="module")
def fitted_bas():
    x = bars_and_stripes(3)
    return BernoulliRBM(n_components=8, learning_rate=0.05, n_iter=30, batch_size=4,
                        random_state=0).fit(np.repeat(x, 10, axis=0)), x


@pytest.fixture(scope="module")
def fitted_digits():
    x = digits()[:400]
    return BernoulliRBM(n_components=12, learning_rate=0.05, n_iter=5, batch_size=20,
                        random_state=0).fit(x), x


def test_clamped_free_energy_equals_sklearn(fitted_bas, fitted_digits):
    for model, x in (fitted_bas, fitted_digits):
        rbm = RBM.from_sklearn(model)
        assert (rbm.n_visible, rbm.n_hidden) == (x.shape[1], model.n_components)
        np.testing.assert_allclose(clamped_free_energy(rbm, x, 1.0), model._free_energy(x),
                                   rtol=0, atol=1e-8)


def test_exact_ln_z_and_log_likelihood_of_a_sklearn_model(fitted_bas):
    model, x = fitted_bas
    rbm = RBM.from_sklearn(model)
    v = all_states(9)
    # brute force over the visible layer with scikit-learn's own free energy
    log_z = logsumexp(-model._free_energy(v))
    assert log_partition(rbm) == pytest.approx(log_z, abs=1e-9)
    ll = log_likelihood(rbm, x)
    np.testing.assert_allclose(ll, -model._free_energy(x) - log_z, atol=1e-9)
    assert logsumexp(log_likelihood(rbm, v)) == pytest.approx(0.0, abs=1e-10)


def test_exact_log_likelihood_of_a_64_pixel_digits_model(fitted_digits):
    model, x = fitted_digits
    rbm = RBM.from_sklearn(model)
    ll = log_likelihood(rbm, x)          # 2^12 hidden states enumerated, 2^64 visible summed
    assert ll.shape == (400,) and np.all(np.isfinite(ll)) and np.all(ll < 0)
    # the pseudo-likelihood scikit-learn reports is a different (and not normalised) number
    assert not np.allclose(ll, model.score_samples(x))


def test_round_trip_rbm_to_sklearn_to_rbm():
    rbm = RBM.random(7, 5, seed=3, weight_scale=2.0)
    model = rbm.to_sklearn(random_state=1)
    assert isinstance(model, BernoulliRBM) and model.n_components == 5
    back = RBM.from_sklearn(model)
    for name in ("weights", "visible_bias", "hidden_bias"):
        np.testing.assert_array_equal(getattr(back, name), getattr(rbm, name))


def test_round_trip_sklearn_to_rbm_to_sklearn(fitted_bas):
    model, x = fitted_bas
    again = RBM.from_sklearn(model).to_sklearn(random_state=0)
    np.testing.assert_array_equal(again.components_, model.components_)
    np.testing.assert_array_equal(again.intercept_visible_, model.intercept_visible_)
    np.testing.assert_array_equal(again.intercept_hidden_, model.intercept_hidden_)
    np.testing.assert_allclose(again._free_energy(x), model._free_energy(x), atol=1e-12)


def test_exported_model_methods_work():
    rbm = RBM.random(6, 4, seed=0, weight_scale=1.5)
    model = rbm.to_sklearn(random_state=0)
    v = all_states(6)
    np.testing.assert_allclose(model.transform(v), expit(v @ rbm.weights + rbm.hidden_bias))
    np.testing.assert_allclose(model._free_energy(v), clamped_free_energy(rbm, v), atol=1e-12)
    s = model.score_samples(v)
    assert s.shape == (64,) and np.all(np.isfinite(s)) and np.all(s <= 0)
    g = model.gibbs(v)
    assert g.shape == v.shape and set(np.unique(g)) <= {0.0, 1.0}
    # scikit-learn's Gibbs steps sample our model: long-run visible means match exactly-computed ones
    from explorer.rbm import marginals
    chains = np.zeros((3000, 6))
    for _ in range(60):
        chains = model.gibbs(chains).astype(float)
    mv, _ = marginals(rbm)
    assert np.max(np.abs(chains.mean(0) - mv)) < 4 * 0.5 / np.sqrt(3000)
    # and it keeps training from our parameters
    model.partial_fit(np.ones((5, 6)))
    assert not np.array_equal(model.components_, rbm.weights.T)


def test_from_sklearn_rejects_unfitted_model():
    with pytest.raises(InputError, match="fitted"):
        RBM.from_sklearn(BernoulliRBM(n_components=3))
