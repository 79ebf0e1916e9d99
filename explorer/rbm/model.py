"""The Restricted Boltzmann Machine type: parameters, validation, file and scikit-learn I/O.

Energy (docs/physics.md): ``E(v, h) = -a.v - b.h - v^T W h`` with binary units in {0, 1},
``a`` the visible bias, ``b`` the hidden bias and ``W`` of shape (n_visible, n_hidden).
Temperature is not part of the model: it is an argument of every quantity.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ._validation import check_finite_array

NPZ_KEYS = ("weights", "visible_bias", "hidden_bias")
#: Largest total uncompressed size of an RBM file's arrays: a compressed .npz can expand
#: enormously (a "zip bomb"); far above any RBM that can be enumerated.
MAX_NPZ_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, eq=False)
class RBM:
    """A binary-binary Restricted Boltzmann Machine.

    Parameters
    ----------
    weights : array-like of shape (n_visible, n_hidden)
        Couplings ``W``.
    visible_bias : array-like of shape (n_visible,)
        Visible biases ``a``.
    hidden_bias : array-like of shape (n_hidden,)
        Hidden biases ``b``.

    Notes
    -----
    Arrays are copied to read-only float64; every entry must be finite. The
    object is immutable: the rescaling methods return new RBMs.
    """

    weights: np.ndarray
    visible_bias: np.ndarray
    hidden_bias: np.ndarray

    def __post_init__(self):
        w = check_finite_array(self.weights, "weights", ndim=2)
        if w.shape[0] == 0 or w.shape[1] == 0:
            raise InputError(f"weights must have at least one visible and one hidden unit, got shape {w.shape}")
        a = check_finite_array(self.visible_bias, "visible_bias", ndim=1, shape=(w.shape[0],))
        b = check_finite_array(self.hidden_bias, "hidden_bias", ndim=1, shape=(w.shape[1],))
        for name, arr in (("weights", w), ("visible_bias", a), ("hidden_bias", b)):
            arr = np.array(arr, dtype=np.float64, copy=True)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    # ------------------------------------------------------------------ shape
    @property
    def n_visible(self) -> int:
        return self.weights.shape[0]

    @property
    def n_hidden(self) -> int:
        return self.weights.shape[1]

    @property
    def weight_norm(self) -> float:
        """Frobenius norm of the couplings, ``||W||``."""
        return float(np.linalg.norm(self.weights))

    def __repr__(self):
        return (f"RBM(n_visible={self.n_visible}, n_hidden={self.n_hidden}, "
                f"weight_norm={self.weight_norm:.4g})")

    # ----------------------------------------------------------- constructors
    @classmethod
    def random(cls, n_visible, n_hidden, *, seed=0, weight_scale=1.0, bias_scale=0.5):
        """Random RBM with Gaussian parameters.

        Parameters
        ----------
        n_visible, n_hidden : int
            Layer sizes (>= 1).
        seed : int
            Seed of ``numpy.random.default_rng``; the same seed gives the same model.
        weight_scale : float
            Standard deviation of each coupling is ``weight_scale / sqrt(n_visible)``,
            so that local fields stay of order ``weight_scale`` as layers grow.
        bias_scale : float
            Standard deviation of the biases.
        """
        for name, n in (("n_visible", n_visible), ("n_hidden", n_hidden)):
            if int(n) != n or n < 1:
                raise InputError(f"{name} must be a positive integer, got {n}")
        for name, s in (("weight_scale", weight_scale), ("bias_scale", bias_scale)):
            if not np.isfinite(s) or s < 0:
                raise InputError(f"{name} must be finite and >= 0, got {s}")
        if isinstance(seed, (bool, np.bool_)) or int(seed) != seed or seed < 0:
            raise InputError(f"seed must be a non-negative integer, got {seed}")
        rng = np.random.default_rng(int(seed))
        n_visible, n_hidden = int(n_visible), int(n_hidden)
        w = rng.normal(0.0, weight_scale / np.sqrt(n_visible), size=(n_visible, n_hidden))
        a = rng.normal(0.0, bias_scale, size=n_visible)
        b = rng.normal(0.0, bias_scale, size=n_hidden)
        return cls(w, a, b)

    @classmethod
    def load(cls, path):
        """Read an RBM from an ``.npz`` file with keys ``weights``, ``visible_bias``, ``hidden_bias``.

        The file is read with ``allow_pickle=False``: loading never executes code.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise InputError(f"no such file: {path}")
        if not zipfile.is_zipfile(path):
            # np.load would otherwise treat it as a pickle (and refuse): say what is wrong
            raise InputError(f"{path} is not a readable .npz file (not a zip archive)")
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
        if total > MAX_NPZ_BYTES:
            raise InputError(f"{path} expands to {total / 2**20:.0f} MiB; RBM files are limited to "
                             f"{MAX_NPZ_BYTES // 2**20} MiB")
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = [k for k in NPZ_KEYS if k not in data.files]
                if missing:
                    raise InputError(
                        f"{path} lacks key(s) {', '.join(missing)}; an RBM file needs "
                        f"{', '.join(NPZ_KEYS)}")
                arrays = {k: data[k] for k in NPZ_KEYS}
        except InputError:
            raise
        except ValueError:  # object arrays need pickle: refused, never executed
            raise InputError(f"{path}: refused to load an array that needs pickle "
                             f"(object arrays can run code); store plain numeric arrays") from None
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            raise InputError(f"{path} is not a readable .npz file ({exc})") from None
        return cls(**arrays)

    def save(self, path):
        """Write the parameters to ``path`` (``.npz``, the format :meth:`load` reads)."""
        np.savez(path, weights=self.weights, visible_bias=self.visible_bias,
                 hidden_bias=self.hidden_bias)

    @classmethod
    def from_sklearn(cls, model):
        """Build from a fitted :class:`sklearn.neural_network.BernoulliRBM`.

        scikit-learn stores ``components_`` as (n_hidden, n_visible), ``intercept_visible_``
        and ``intercept_hidden_``; its ``_free_energy`` is our clamped free energy at T = 1.
        """
        try:
            comps = model.components_
            a = model.intercept_visible_
            b = model.intercept_hidden_
        except AttributeError:
            raise InputError("from_sklearn needs a fitted BernoulliRBM (call fit first)") from None
        return cls(np.asarray(comps).T, a, b)

    def to_sklearn(self, **kwargs):
        """Return a :class:`sklearn.neural_network.BernoulliRBM` holding these parameters.

        Keyword arguments go to the BernoulliRBM constructor (``n_components`` is set here).
        """
        from sklearn.neural_network import BernoulliRBM
        from sklearn.utils import check_random_state

        if kwargs.get("n_components", self.n_hidden) != self.n_hidden:
            raise InputError(f"n_components is fixed by the RBM ({self.n_hidden} hidden units), "
                             f"got {kwargs['n_components']}")
        kwargs["n_components"] = self.n_hidden
        model = BernoulliRBM(**kwargs)
        model.components_ = np.array(self.weights.T)
        model.intercept_visible_ = np.array(self.visible_bias)
        model.intercept_hidden_ = np.array(self.hidden_bias)
        model.n_features_in_ = self.n_visible
        # what fit() would set: gibbs() draws from it (an int, None or a RandomState)
        model.random_state_ = check_random_state(kwargs.get("random_state"))
        return model

    # -------------------------------------------------------------- rescaling
    def with_weight_norm(self, norm):
        """Same biases, couplings rescaled so that ``||W||_F == norm``."""
        if not np.isfinite(norm) or norm < 0:
            raise InputError(f"weight norm must be finite and >= 0, got {norm}")
        current = self.weight_norm
        if current == 0:
            if norm == 0:
                return self
            raise InputError("cannot rescale an RBM whose weights are all zero to a non-zero norm")
        return RBM(self.weights * (norm / current), self.visible_bias, self.hidden_bias)

    def scaled(self, factor):
        """Every parameter times ``factor``; ``rbm.scaled(1/T)`` at T = 1 is ``rbm`` at temperature T."""
        if not np.isfinite(factor):
            raise InputError(f"scale factor must be finite, got {factor}")
        return RBM(self.weights * factor, self.visible_bias * factor, self.hidden_bias * factor)

    def transposed(self):
        """Swap the roles of visible and hidden layers (the energy is symmetric in them)."""
        return RBM(self.weights.T, self.hidden_bias, self.visible_bias)
