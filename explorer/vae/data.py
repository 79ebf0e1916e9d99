"""Binary image data for the VAE: scikit-learn's 8x8 digits (default) or a user's .npz file.

A Bernoulli decoder gives a true probability only for binary pixels (BCE on grey
pixels is not a likelihood), so every source is binarised: digits at pixel >= 8
(of 0..16), user images in [0, 1] at >= 0.5. The train/validation/test split is a
fixed seeded permutation, recorded in checkpoints so that a test index always
names the same image.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

DIGITS_THRESHOLD = 8
DEFAULT_SPLIT_SEED = 0
DEFAULT_TEST_FRACTION = 0.2
DEFAULT_VAL_FRACTION = 0.1
NPZ_IMAGE_KEYS = ("images", "x", "X", "data", "x_train")


@dataclass(frozen=True, eq=False)
class BinaryDataset:
    """A binarised image set split into train, validation and test rows.

    Attributes
    ----------
    train, val, test : ndarray of float32, shape (n, n_pixels)
        0/1 pixels; ``val`` is carved from the training part and drives early stopping,
        so the test split stays untouched by training.
    train_labels, val_labels, test_labels : ndarray of int64 or None
    source : dict
        Plain description (``kind``, ``path``, ``split_seed``, fractions, sizes) stored in checkpoints.
    image_shape : tuple of int
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    train_labels: np.ndarray | None
    val_labels: np.ndarray | None
    test_labels: np.ndarray | None
    source: dict
    image_shape: tuple

    @property
    def n_pixels(self) -> int:
        return int(self.train.shape[1])


def binarize_digits(images):
    """Binarise 0..16 digit intensities: pixel >= 8 -> 1."""
    return (np.asarray(images) >= DIGITS_THRESHOLD).astype(np.float32)


def split_indices(n, split_seed=DEFAULT_SPLIT_SEED, test_fraction=DEFAULT_TEST_FRACTION,
                  val_fraction=DEFAULT_VAL_FRACTION):
    """Fixed seeded (train, val, test) index arrays; fractions are of the whole set."""
    if not 0 < test_fraction < 1 or not 0 <= val_fraction < 1 or test_fraction + val_fraction >= 1:
        raise InputError(f"bad split fractions: test {test_fraction}, validation {val_fraction}")
    perm = np.random.default_rng(int(split_seed)).permutation(n)
    n_test = max(1, int(round(test_fraction * n)))
    n_val = int(round(val_fraction * n)) if val_fraction > 0 else 0
    if n - n_test - n_val < 1:
        raise InputError(f"a data set of {n} images is too small to split into train, validation and test")
    return perm[n_test + n_val:], perm[n_test:n_test + n_val], perm[:n_test]


def _make(images, labels, source, image_shape, split_seed, test_fraction, val_fraction):
    tr, va, te = split_indices(len(images), split_seed, test_fraction, val_fraction)
    source = dict(source, split_seed=int(split_seed), test_fraction=float(test_fraction),
                  val_fraction=float(val_fraction), n_train=int(tr.size), n_val=int(va.size),
                  n_test=int(te.size), n_pixels=int(images.shape[1]))

    def lab(idx):
        return None if labels is None else labels[idx]

    return BinaryDataset(images[tr], images[va], images[te], lab(tr), lab(va), lab(te), source,
                         tuple(int(s) for s in image_shape))


def load_digits_binary(split_seed=DEFAULT_SPLIT_SEED, test_fraction=DEFAULT_TEST_FRACTION,
                       val_fraction=DEFAULT_VAL_FRACTION):
    """scikit-learn's 1797 8x8 digits (bundled, no download), binarised at pixel >= 8.

    Returns
    -------
    BinaryDataset
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = binarize_digits(digits.data)
    return _make(images, digits.target.astype(np.int64), {"kind": "digits", "path": None,
                 "threshold": DIGITS_THRESHOLD}, (8, 8), split_seed, test_fraction, val_fraction)


def load_npz_binary(path, split_seed=DEFAULT_SPLIT_SEED, test_fraction=DEFAULT_TEST_FRACTION,
                    val_fraction=DEFAULT_VAL_FRACTION):
    """A user's MNIST-style ``.npz``: images in [0, 1] or {0, 1}, binarised at >= 0.5.

    The images are the first of the keys ``images``, ``x``, ``X``, ``data``, ``x_train``
    (shape ``(n, h, w)`` or ``(n, d)``); optional integer labels under ``labels`` or ``y``.
    Loaded with ``allow_pickle=False``: object arrays are refused.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"data file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            key = next((k for k in NPZ_IMAGE_KEYS if k in npz.files), None)
            if key is None:
                raise InputError(f"{path}: no image array; expected one of the keys {', '.join(NPZ_IMAGE_KEYS)}")
            raw = np.asarray(npz[key])
            labels = None
            for lk in ("labels", "y", "y_train"):
                if lk in npz.files:
                    labels = np.asarray(npz[lk])
                    break
    except InputError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npz file ({type(exc).__name__})") from None
    if raw.ndim not in (2, 3) or raw.shape[0] < 3 or raw[0].size == 0:
        raise InputError(f"{path}: images must have shape (n, h, w) or (n, d) with n >= 3, got {raw.shape}")
    if not np.issubdtype(raw.dtype, np.number) and raw.dtype != np.bool_:
        raise InputError(f"{path}: images must be numeric, got dtype {raw.dtype}")
    images = raw.astype(np.float64)
    if not np.all(np.isfinite(images)):
        raise InputError(f"{path}: images contain NaN or inf")
    if images.min() < 0 or images.max() > 1:
        raise InputError(f"{path}: pixel values must lie in [0, 1], got range [{images.min()}, {images.max()}]")
    image_shape = raw.shape[1:] if raw.ndim == 3 else (raw.shape[1],)
    images = (images.reshape(len(images), -1) >= 0.5).astype(np.float32)
    if labels is not None:
        if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
            raise InputError(f"{path}: labels must be integers of shape ({len(images)},), got {labels.shape}")
        labels = labels.astype(np.int64)
    return _make(images, labels, {"kind": "npz", "path": os.path.abspath(path), "threshold": 0.5},
                 image_shape, split_seed, test_fraction, val_fraction)


def load_dataset(source=None, split_seed=DEFAULT_SPLIT_SEED, test_fraction=DEFAULT_TEST_FRACTION,
                 val_fraction=DEFAULT_VAL_FRACTION):
    """Digits when ``source`` is None or ``"digits"``, else the ``.npz`` file at that path."""
    if source is None or source == "digits":
        return load_digits_binary(split_seed, test_fraction, val_fraction)
    return load_npz_binary(source, split_seed, test_fraction, val_fraction)


def dataset_from_metadata(meta_data, override_path=None):
    """Rebuild the split a checkpoint was trained on from its ``metadata["data"]`` record."""
    try:
        kind = meta_data["kind"]
        seed, tf, vf = meta_data["split_seed"], meta_data["test_fraction"], meta_data["val_fraction"]
    except (KeyError, TypeError):
        raise InputError("checkpoint metadata has no usable data record") from None
    if override_path is not None:
        ds = load_npz_binary(override_path, seed, tf, vf)
    elif kind == "digits":
        ds = load_digits_binary(seed, tf, vf)
    elif kind == "npz":
        path = meta_data.get("path")
        if not path or not os.path.isfile(path):
            raise InputError(f"the checkpoint was trained on {path!r}, which is not found; pass the file with --data")
        ds = load_npz_binary(path, seed, tf, vf)
    else:
        raise InputError(f"checkpoint names an unknown data kind {kind!r}")
    if ds.n_pixels != meta_data.get("n_pixels", ds.n_pixels):
        raise InputError(f"data has {ds.n_pixels} pixels per image but the checkpoint expects {meta_data['n_pixels']}")
    return ds
