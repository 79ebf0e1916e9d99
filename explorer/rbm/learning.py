"""A race of training methods on one small RBM, scored exactly after every epoch.

Several methods (:data:`explorer.rbm.training.METHODS`: the exact gradient, CD-k, PCD,
TAP2, TAP3) train side by side from the **same initial model** (:func:`~explorer.rbm.training.initial_rbm`)
on the same data. Each lane is an :class:`~explorer.rbm.training.SGDState` advanced by
:func:`~explorer.rbm.training.sgd_epoch`, the very step :func:`explorer.rbm.training.train`
takes, started as ``train`` starts it: a lane is ``train`` with that method and seed (same
shuffles, same Gibbs chains, same updates; TAP lanes by default keep their magnetisations
from one update to the next, see :class:`Race`), but it advances one epoch per
:meth:`Race.step`, so that a caller (the app's training thread) can
draw between lanes and stop before any batch (an interrupted epoch is undone).

The models are enumerable, so after every epoch each lane is scored **exactly** at ``T = 1``
(docs/physics.md, section 1)::

    ln p(v) = F - F_c(v),    F = -ln Z,    F_c(v) = -a.v - sum_j softplus(b_j + (W^T v)_j)

as the mean ``ln p`` of the training rows and, where there is a split, of the held-out rows.

For the current model of one lane, :func:`inspect_model` gives what the Learning tab draws:
the decomposition ``ln p(v) = -F_c(v) + F`` for data rows and non-data patterns, the exact
probability of the most likely visible patterns against their frequency in the data, Gibbs
samples, and each hidden unit's weights.
"""

from __future__ import annotations

import copy
import io
import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import EnumerationLimitError, InputError
from ._special import logsumexp
from .datasets import bars_and_stripes, digits, optimal_log_likelihood
from .exact import all_states, clamped_free_energy, log_partition
from .sampling import _binary_data, _positive_int, _rng, gibbs_sample
from .training import (
    EPOCH_DIVERGED,
    EPOCH_STOPPED,
    SGDState,
    _check_real,
    _method_name,
    initial_rbm,
    model_term,
    parse_method,
    sgd_epoch,
)

__all__ = [
    "LEARNING_DATASETS", "MAX_VISIBLE", "MAX_HIDDEN", "LearningData", "learning_dataset",
    "dataset_from_npy", "exact_scores", "Race", "RaceEpoch", "ModelInspection", "inspect_model",
    "image_shape",
]

#: Data sets of the race: name -> what a student reads.
LEARNING_DATASETS = {
    "bars-stripes-3": "bars and stripes 3×3 (14 patterns)",
    "bars-stripes-4": "bars and stripes 4×4 (30 patterns)",
    "digits-4x4": "digits, binarised, 4×4 (1797 images)",
}
#: Largest visible layer: every visible pattern is enumerated for the pattern probabilities
#: (2^16 rows), and the exact gradient enumerates min(n_visible, n_hidden) units per batch.
MAX_VISIBLE = 16
#: Largest hidden layer: the trained model must stay explorable (the explorer enumerates at
#: most 14 units of the smaller layer at 201 temperatures).
MAX_HIDDEN = 14
#: Share of the rows held out (digits, uploads with enough rows); bars and stripes has no
#: split: every pattern is needed to learn the set.
HELD_OUT_FRACTION = 0.2
#: Fewest rows for which an upload is split (fewer: every row trains).
MIN_ROWS_TO_SPLIT = 10
#: Largest uploaded .npy (bytes): 0/1 rows of at most 16 columns; this is ~60 000 float64 rows.
MAX_NPY_BYTES = 8_000_000


# ------------------------------------------------------------------------------ data
@dataclass(frozen=True)
class LearningData:
    """Training rows, held-out rows (or None) and how a row is drawn as an image.

    Attributes
    ----------
    name : str
    train : ndarray (n_train, n_visible), float64 in {0, 1}
    held_out : ndarray (n_held_out, n_visible) or None
    shape : (rows, columns)
        ``rows * columns == n_visible``; a row of the data reshaped row-major is the image.
    """

    name: str
    train: np.ndarray
    held_out: np.ndarray | None
    shape: tuple

    @property
    def n_visible(self):
        return self.train.shape[1]

    @property
    def optimum(self):
        """Best mean ``ln p`` of the training rows: minus the entropy of their empirical law."""
        return optimal_log_likelihood(self.train)


def image_shape(n_visible):
    """``(rows, columns)`` for drawing a row of ``n_visible`` units: square when possible."""
    side = math.isqrt(n_visible)
    return (side, side) if side * side == n_visible else (1, n_visible)


def _split(name, rows, seed, fraction=HELD_OUT_FRACTION):
    rng = _rng(seed)
    order = rng.permutation(rows.shape[0])
    n_held = int(round(fraction * rows.shape[0]))
    return LearningData(name, rows[order[n_held:]], rows[order[:n_held]], image_shape(rows.shape[1]))


def downsampled_digits(side=4):
    """scikit-learn's digits binarised at the midpoint, then pooled to ``side x side``.

    A pooled pixel is on when at least half of its block is on (8 / side pixels a side).

    Returns
    -------
    ndarray (1797, side*side), float64 in {0, 1}
    """
    if side not in (2, 4):
        raise InputError(f"digits can be pooled to 2x2 or 4x4, got {side!r}")
    x = digits().reshape(-1, side, 8 // side, side, 8 // side)
    return (x.mean(axis=(2, 4)) >= 0.5).reshape(-1, side * side).astype(np.float64)


def learning_dataset(name, *, seed=0):
    """One of :data:`LEARNING_DATASETS`; digits are split (80 % train, 20 % held out by ``seed``)."""
    if name == "bars-stripes-3":
        return LearningData(name, bars_and_stripes(3), None, (3, 3))
    if name == "bars-stripes-4":
        return LearningData(name, bars_and_stripes(4), None, (4, 4))
    if name == "digits-4x4":
        return _split(name, downsampled_digits(4), seed)
    raise InputError(f"unknown data set {name!r}; choose one of {', '.join(LEARNING_DATASETS)}")


def check_rows(rows, name="data"):
    """0/1 rows of an enumerable width (:data:`MAX_VISIBLE`), or InputError."""
    arr = np.asarray(rows)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{name} must be a 2-D array with one 0/1 row per pattern, got shape {arr.shape}")
    if arr.shape[1] > MAX_VISIBLE:
        raise EnumerationLimitError(
            f"{name} has {arr.shape[1]} columns: the Learning tab enumerates every visible pattern, "
            f"so rows may have at most {MAX_VISIBLE} units")
    if not np.issubdtype(arr.dtype, np.number) and arr.dtype != bool:
        raise InputError(f"{name} must be numeric 0/1 rows, got dtype {arr.dtype}")
    return _binary_data(arr.astype(np.float64), arr.shape[1], name)


def dataset_from_npy(content, name="upload.npy", *, seed=0):
    """Rows of an uploaded ``.npy`` (bytes or a path), checked; split when it has enough rows.

    Loaded with ``allow_pickle=False``: a file holding Python objects is refused.
    """
    if isinstance(content, (bytes, bytearray)):
        if len(content) > MAX_NPY_BYTES:
            raise InputError(f"{name} is {len(content) / 1e6:.1f} MB; at most {MAX_NPY_BYTES // 1_000_000} MB "
                             f"of 0/1 rows")
        source = io.BytesIO(bytes(content))
    else:
        source = content
    try:
        rows = np.load(source, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{name} is not a readable .npy array of 0/1 rows ({exc})".replace("\n", " ")) from None
    if not isinstance(rows, np.ndarray):
        raise InputError(f"{name} must hold one array (.npy), not an archive")
    rows = check_rows(rows, name)
    if rows.shape[0] >= MIN_ROWS_TO_SPLIT:
        return _split(name, rows, seed)
    return LearningData(name, rows, None, image_shape(rows.shape[1]))


# ------------------------------------------------------------------------ exact score
def exact_scores(rbm, *row_sets):
    """Exact mean ``ln p`` at ``T = 1`` of each set of rows (None gives None).

    One enumeration (``ln Z``) serves every set: ``ln p(v) = -F_c(v) - ln Z``.

    Returns
    -------
    list of float or None, one per set.
    """
    log_z = log_partition(rbm, 1.0)
    out = []
    for rows in row_sets:
        if rows is None:
            out.append(None)
            continue
        # ln p <= 0 exactly; rounding could put it a hair above
        out.append(float(np.mean(np.minimum(-clamped_free_energy(rbm, rows, 1.0) - log_z, 0.0))))
    return out


# ------------------------------------------------------------------------------ race
@dataclass
class _Lane(SGDState):
    """One method's run: its :class:`~explorer.rbm.training.SGDState` (parameters, velocity,
    chains, magnetisations, its own random stream), its scores and why it stopped."""

    method: str = ""
    train_ll: list = field(default_factory=list)
    held_out_ll: list = field(default_factory=list)
    diverged: str = ""


@dataclass(frozen=True)
class RaceEpoch:
    """Scores after one epoch: method -> mean ``ln p`` (None for a lane that has stopped)."""

    epoch: int
    train: dict
    held_out: dict


class Race:
    """Train several methods side by side, one epoch at a time, each scored exactly.

    Parameters
    ----------
    data : LearningData or array-like (n, n_visible)
        Rows in {0, 1} (an array trains on every row, without a held-out set).
    n_hidden : int, 1..MAX_HIDDEN
    methods : sequence of str
        Names accepted by :func:`explorer.rbm.training.parse_method`: ``"exact"``, ``"cd1"``,
        ``"cd<k>"``, ``"pcd"``, ``"tap2"``, ``"tap3"``; each at most once.
    learning_rate, momentum, weight_decay, batch_size, seed
        As in :func:`explorer.rbm.training.train` (``batch_size`` default ``min(n, 100)``).
    persistent_tap : bool
        TAP lanes start from the previous update's fixed point (persistent magnetisations, as
        EMF training does: Gabrié, Tramel & Krzakala 2015), with
        :func:`explorer.rbm.tap.tap_follow`: Newton's method from it, and where that branch of
        solutions has ended (strong couplings give the TAP equations several solutions; one
        update can make two of them merge and vanish) the damped iteration from it to a nearby
        solution, then Newton. Only where both fail does the lane solve from mean field like
        ``train`` (whose slow fallback took ~0.2-0.4 s per update once ‖W‖ > 8, measured); those
        cold restarts are counted (``tap_cold_restarts`` in :meth:`to_dict`). Every update is
        taken at a solution of the TAP equations. ``False``: exactly ``train``.

    Notes
    -----
    Every lane starts from ``initial_rbm(train rows, n_hidden, seed=seed)`` and draws its
    shuffles and Gibbs chains from its own ``numpy.random.default_rng(seed)``
    (:meth:`SGDState.start <explorer.rbm.training.SGDState.start>`, as ``train``), and its
    epochs are ``train``'s (:func:`~explorer.rbm.training.sgd_epoch`): a lane is
    ``train(method=..., seed=seed)`` run one epoch at a time (TAP lanes too with
    ``persistent_tap=False``). A lane whose parameters leave ``[-1e8, 1e8]`` stops
    (:attr:`diverged` says why); the others go on.
    """

    def __init__(self, data, n_hidden, methods, *, learning_rate=0.1, momentum=0.5, weight_decay=0.0,
                 batch_size=None, seed=0, persistent_tap=True):
        if not isinstance(data, LearningData):
            rows = check_rows(data)
            data = LearningData("data", rows, None, image_shape(rows.shape[1]))
        self.data = data
        n_hidden = _positive_int(n_hidden, "hidden units")
        if n_hidden > MAX_HIDDEN:
            raise EnumerationLimitError(f"at most {MAX_HIDDEN} hidden units (the trained model must stay "
                                        f"enumerable in the explorer), got {n_hidden}")
        if isinstance(methods, str):
            methods = [m for m in methods.split(",") if m]
        parsed = [parse_method(m) for m in methods]
        names = [_method_name(kind, k) for kind, k in parsed]
        if not names:
            raise InputError("choose at least one training method")
        if len(set(names)) != len(names):
            raise InputError(f"each method may run once, got {', '.join(names)}")
        self.learning_rate = _check_real(learning_rate, "learning rate", low=0.0, low_open=True)
        self.momentum = _check_real(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        self.weight_decay = _check_real(weight_decay, "weight decay", low=0.0)
        n = data.train.shape[0]
        bs = min(n, 100) if batch_size is None else _positive_int(batch_size, "batch size")
        self.batch_size = min(bs, n)
        self.seed = seed
        self.persistent_tap = bool(persistent_tap)
        self.initial = initial_rbm(data.train, n_hidden, seed=seed)
        self.epoch = 0
        self.lanes = {}
        for (kind, k), name in zip(parsed, names):
            # as train() starts: the persistent chains are the stream's first draws
            self.lanes[name] = _Lane.start(self.initial, kind, k, seed, data=data.train,
                                           n_chains=self.batch_size, method=name)

    # ------------------------------------------------------------------ reading
    @property
    def methods(self):
        return tuple(self.lanes)

    @property
    def n_hidden(self):
        return self.initial.n_hidden

    def model(self, method):
        """The current RBM of a lane (an immutable copy: safe to hand to another thread)."""
        return self.lanes[method].model()

    def curves(self):
        """method -> ``{"train": [...], "held_out": [...] or None, "diverged": str}`` (one entry per epoch)."""
        return {m: {"train": list(lane.train_ll),
                    "held_out": list(lane.held_out_ll) if self.data.held_out is not None else None,
                    "diverged": lane.diverged} for m, lane in self.lanes.items()}

    @property
    def diverged(self):
        """method -> why it stopped, for the lanes that diverged."""
        return {m: lane.diverged for m, lane in self.lanes.items() if lane.diverged}

    @property
    def running(self):
        return any(not lane.diverged for lane in self.lanes.values())

    # ------------------------------------------------------------------ stepping
    def step(self, stop=None, on_lane=None):
        """Train every running lane for one epoch, each scored exactly right after its epoch.

        Parameters
        ----------
        stop : callable, optional
            Asked before every batch of every lane; when it returns true the epoch is undone
            (every lane back to where it stood before it: parameters, velocity, chains,
            random stream, scores) and None is returned, so a race always stands at the end
            of a whole epoch.
        on_lane : callable, optional
            Called after each lane's epoch and score (what a caller draws between lanes).

        Returns
        -------
        RaceEpoch, or None when stopped.
        """
        saved = self._save() if stop is not None else None
        self.epoch += 1
        train, held = {}, {}
        for m, lane in self.lanes.items():
            if not lane.diverged and not self._epoch(lane, stop):
                self._restore(saved)
                return None
            if lane.diverged:
                train[m] = held[m] = None
            else:
                train[m], held[m] = self._score(lane)
            if on_lane is not None:
                on_lane()
        return RaceEpoch(self.epoch, train, held)

    def _score(self, lane):
        tr, ho = exact_scores(lane.model(), self.data.train, self.data.held_out)
        if not math.isfinite(tr):
            lane.diverged = f"diverged in epoch {self.epoch} (ln p = {tr}); lower the learning rate"
            return None, None
        lane.train_ll.append(tr)
        if ho is not None:
            lane.held_out_ll.append(ho)
        return tr, ho

    _STATE = ("w", "a", "b", "chains", "magnetisations", "tap_restarts", "diverged")

    def _save(self):
        out = {}
        for m, lane in self.lanes.items():
            st = {k: copy.deepcopy(getattr(lane, k)) for k in self._STATE}
            st.update(velocity=[v.copy() for v in lane.velocity], rng=copy.deepcopy(lane.rng.bit_generator.state),
                      n_train=len(lane.train_ll), n_held=len(lane.held_out_ll))
            out[m] = st
        return self.epoch, out

    def _restore(self, saved):
        self.epoch, states = saved
        for m, st in states.items():
            lane = self.lanes[m]
            for k in self._STATE:
                setattr(lane, k, st[k])
            lane.velocity = st["velocity"]
            lane.rng.bit_generator.state = st["rng"]
            del lane.train_ll[st["n_train"]:]
            del lane.held_out_ll[st["n_held"]:]

    def run(self, epochs, stop=None, on_lane=None):
        """Yield :class:`RaceEpoch` for ``epochs`` more epochs, or until ``stop()`` is true.

        ``stop`` is asked before every batch (an epoch it interrupts is undone, see :meth:`step`);
        ``on_lane`` is called after each lane's epoch.
        """
        for _ in range(_positive_int(epochs, "epochs")):
            if (stop is not None and stop()) or not self.running:
                return
            rec = self.step(stop, on_lane)
            if rec is None:
                return
            yield rec

    def _epoch(self, lane, stop=None):
        """One epoch of one lane (:func:`~explorer.rbm.training.sgd_epoch`, as ``train``);
        False when ``stop()`` turned true before a batch."""
        outcome = sgd_epoch(lane, self.data.train, self.batch_size, learning_rate=self.learning_rate,
                            momentum=self.momentum, weight_decay=self.weight_decay, term=self._model_term,
                            stop=stop)
        if outcome == EPOCH_DIVERGED:
            lane.diverged = (f"diverged in epoch {self.epoch} (a parameter left [-1e8, 1e8]); "
                             f"lower the learning rate")
        return outcome != EPOCH_STOPPED

    def _model_term(self, lane, current, batch):
        """The negative phase ``E_model[v h^T], E[v], E[h]`` of the lane's method
        (:func:`~explorer.rbm.training.model_term`; TAP lanes persistent unless told not)."""
        return model_term(lane, current, batch, persistent_tap=self.persistent_tap)

    def to_dict(self):
        """JSON-ready summary (what ``rbm-race --json`` prints)."""
        d = self.data
        return {"dataset": d.name, "n_visible": d.n_visible, "n_hidden": self.n_hidden,
                "n_train": int(d.train.shape[0]),
                "n_held_out": 0 if d.held_out is None else int(d.held_out.shape[0]),
                "optimum": d.optimum, "epochs": self.epoch, "learning_rate": self.learning_rate,
                "momentum": self.momentum, "batch_size": self.batch_size, "seed": self.seed,
                "persistent_tap": self.persistent_tap,
                "methods": {m: {"train_log_likelihood": c["train"], "held_out_log_likelihood": c["held_out"],
                                "diverged": c["diverged"] or None,
                                "tap_cold_restarts": self.lanes[m].tap_restarts if m.startswith("tap") else None}
                            for m, c in self.curves().items()}}


# ----------------------------------------------------------------------- inspection
@dataclass(frozen=True)
class ModelInspection:
    """What the Learning tab shows of one trained model (all at ``T = 1``).

    Attributes
    ----------
    free_energy : float
        ``F = -ln Z``.
    patterns : ndarray (m, n_visible)
        Patterns of the decomposition: data rows first, then non-data patterns.
    is_data : ndarray (m,) bool
    clamped : ndarray (m,)
        ``F_c(v)``.
    log_p : ndarray (m,)
        ``ln p(v) = F - F_c(v)``.
    top_patterns : ndarray (r, n_visible)
        The most probable visible patterns under the model, then data patterns not among them.
    top_probability : ndarray (r,)
        Exact ``p(v)``.
    top_frequency : ndarray (r,)
        Frequency of each pattern among the training rows.
    data_mass : float
        Exact probability the model gives to the set of distinct training patterns.
    samples : ndarray (s, n_visible)
        Visible states of Gibbs chains started uniformly at random.
    sample_steps : int
    hidden_weights : ndarray (n_hidden, n_visible)
        Row ``j``: the weights ``W[:, j]`` of hidden unit ``j`` (reshape to the image shape).
    """

    free_energy: float
    patterns: np.ndarray
    is_data: np.ndarray
    clamped: np.ndarray
    log_p: np.ndarray
    top_patterns: np.ndarray
    top_probability: np.ndarray
    top_frequency: np.ndarray
    data_mass: float
    samples: np.ndarray
    sample_steps: int
    hidden_weights: np.ndarray


def inspect_model(rbm, data, *, n_data=4, n_other=4, n_top=12, n_samples=12, sample_steps=200, seed=0):
    """The decomposition, pattern probabilities, samples and weight images of ``rbm``.

    Parameters
    ----------
    rbm : RBM
        With at most :data:`MAX_VISIBLE` visible units: every visible pattern is enumerated.
    data : array-like (n, n_visible)
        Training rows (frequencies and which patterns are "data").
    n_data, n_other : int
        Patterns of the decomposition: the ``n_data`` most frequent data patterns and the
        ``n_other`` non-data patterns the model finds most probable.
    n_top : int
        Most probable patterns compared with their data frequencies.
    n_samples, sample_steps : int
        Gibbs chains and sweeps per chain.
    seed : int

    Returns
    -------
    ModelInspection
    """
    rows = _binary_data(data, rbm.n_visible)
    if rbm.n_visible > MAX_VISIBLE:
        raise EnumerationLimitError(f"{rbm.n_visible} visible units: at most {MAX_VISIBLE} can be listed "
                                    f"pattern by pattern")
    states = all_states(rbm.n_visible)
    clamped_all = clamped_free_energy(rbm, states, 1.0)
    log_z = float(logsumexp(-clamped_all))          # Z = sum_v exp(-F_c(v)) at T = 1
    free = -log_z
    log_p_all = np.minimum(free - clamped_all, 0.0)
    # a pattern's index among all_states: bit i of the index is unit i
    index = (rows @ (1 << np.arange(rbm.n_visible))).astype(np.int64)
    counts = np.bincount(index, minlength=states.shape[0])
    freq = counts / rows.shape[0]
    data_idx = np.flatnonzero(counts)
    by_freq = data_idx[np.lexsort((-log_p_all[data_idx], -counts[data_idx]))][:n_data]
    others = np.flatnonzero(counts == 0)
    by_prob = others[np.argsort(-log_p_all[others], kind="stable")][:n_other]
    chosen = np.concatenate([by_freq, by_prob])
    top = np.argsort(-log_p_all, kind="stable")[:n_top]
    top = np.concatenate([top, [i for i in data_idx[np.argsort(-counts[data_idx], kind="stable")]
                                if i not in set(top)][:max(0, n_top - top.size)]]).astype(np.int64)
    samples = gibbs_sample(rbm, 1.0, n_chains=n_samples, n_steps=sample_steps, seed=seed).visible
    return ModelInspection(free_energy=free, patterns=states[chosen], is_data=counts[chosen] > 0,
                           clamped=clamped_all[chosen], log_p=log_p_all[chosen], top_patterns=states[top],
                           top_probability=np.exp(log_p_all[top]), top_frequency=freq[top],
                           data_mass=float(np.exp(logsumexp(log_p_all[data_idx]))), samples=samples,
                           sample_steps=int(sample_steps), hidden_weights=np.array(rbm.weights.T))

