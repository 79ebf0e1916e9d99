"""Adaptive tensor-product trapezoid quadrature of ``ln ∫ exp(f(z)) dz`` over a 2-D box.

Why the trapezoid rule: for an analytic integrand that is negligible at the edges of
the box (a tanh-MLP decoder times a Gaussian), its error falls exponentially with
the number of points per axis, so two successive refinements that agree to 1e-4
nats are a sound error estimate.

Two phases:

1. *Locate* the mass. Scan the outer box (covering the prior and q) on a coarse
   grid, keep the fewest cells that hold all but 1e-9 of the scanned mass, and zoom
   to their bounding box (plus two cells, plus any box the caller must cover). Repeat
   while the box shrinks by more than half, so a narrow posterior is found whatever
   its width. The mass left outside is estimated from the scans and reported as part
   of the error.
2. *Refine* the zoomed box with ``n = 33, 65, 129, ...`` points per axis (each grid
   contains the previous one) until the integral and the caller's monitored
   quantities change by less than ``tol``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import logsumexp

from ..errors import InputError

DEFAULT_TOL = 1e-4
N_SCAN = 49
N_START = 33
N_MAX = 1025
TAIL_MASS = 1e-9        # share of the integral the zoom may leave outside the box (reported in the error)
MAX_ZOOMS = 10
MAX_EXPANSIONS = 3      # outer box may grow 8-fold when mass sits on its edge


@dataclass(frozen=True, eq=False)
class Grid2D:
    """A tensor grid with trapezoid weights.

    Attributes
    ----------
    z1, z2 : ndarray
        Axes. Flattened points run over ``z1`` fastest, so values reshape to ``(len(z2), len(z1))``
        (rows are z2: image orientation).
    points : ndarray (n2 * n1, 2)
    log_weights : ndarray (n2 * n1,)
        ln of the trapezoid weight of each point (cell area, halved on edges).
    """

    z1: np.ndarray
    z2: np.ndarray
    points: np.ndarray
    log_weights: np.ndarray

    @property
    def shape(self):
        return (self.z2.size, self.z1.size)

    def on_boundary(self):
        """Boolean mask of the points on the edge of the box."""
        i1 = np.tile(np.arange(self.z1.size), self.z2.size)
        i2 = np.repeat(np.arange(self.z2.size), self.z1.size)
        return (i1 == 0) | (i1 == self.z1.size - 1) | (i2 == 0) | (i2 == self.z2.size - 1)


def make_grid(box, n):
    """Grid of ``n x n`` points on ``box = (lo1, hi1, lo2, hi2)`` with trapezoid weights."""
    lo1, hi1, lo2, hi2 = (float(b) for b in box)
    if not (hi1 > lo1 and hi2 > lo2):
        raise InputError(f"empty quadrature box {box}")
    z1, z2 = np.linspace(lo1, hi1, n), np.linspace(lo2, hi2, n)
    c = np.ones(n)
    c[0] = c[-1] = 0.5
    w1 = np.log(c * (z1[1] - z1[0]))
    w2 = np.log(c * (z2[1] - z2[0]))
    pts = np.stack(np.meshgrid(z1, z2, indexing="xy"), axis=-1).reshape(-1, 2)
    return Grid2D(z1, z2, pts, (w2[:, None] + w1[None, :]).ravel())


def union_box(*boxes):
    bs = np.array([b for b in boxes if b is not None], dtype=np.float64)
    return (bs[:, 0].min(), bs[:, 1].max(), bs[:, 2].min(), bs[:, 3].max())


def _area(box):
    return (box[1] - box[0]) * (box[3] - box[2])


@dataclass(eq=False)
class Integral:
    """Result of :func:`integrate_2d`.

    Attributes
    ----------
    log_value : float
        ``ln ∫ exp(f) dz`` on the finest grid.
    error : float
        Estimated error of ``log_value`` in nats: change at the last refinement plus the
        relative mass estimated outside the box.
    change : float
        Largest change of the integral and the monitors at the last refinement.
    tail : float
        Estimated relative mass outside the refined box.
    converged : bool
        True when the change fell below ``tol`` before ``n_max`` points per axis.
    grid : Grid2D
    log_f : ndarray
        The log-integrand on ``grid``.
    aux : object
        What the evaluator returned alongside ``log_f`` on ``grid``.
    box : tuple
        The refined box.
    edge_fraction : float
        Share of the integral on the edge of the outer box (of the refined box without zoom).
    levels : list of dict
        ``n`` and the monitored values at each refinement (for convergence plots and tests).
    """

    log_value: float
    error: float
    change: float
    tail: float
    converged: bool
    grid: Grid2D
    log_f: np.ndarray
    aux: object
    box: tuple
    edge_fraction: float = 0.0
    levels: list = field(default_factory=list)


def _checked(log_f, n_points):
    log_f = np.asarray(log_f, dtype=np.float64).reshape(-1)
    if log_f.size != n_points:
        raise ValueError(f"evaluator returned {log_f.size} values for {n_points} points")
    if np.any(np.isnan(log_f)) or np.any(log_f == np.inf):
        raise InputError("the integrand is NaN or +inf somewhere on the quadrature grid")
    return log_f


def locate(evaluate, outer_box, cover_box=None, n_scan=N_SCAN, tail_mass=TAIL_MASS):
    """Zoom from ``outer_box`` to the box holding all but ``tail_mass`` of ``∫ exp(f)``.

    Each scan keeps the smallest set of cells holding ``1 - tail_mass`` of the scanned
    mass, takes their bounding box plus two cells (the peak may sit up to a cell away
    from the best grid point), adds ``cover_box``, and zooms while that halves the area.

    Returns
    -------
    box : tuple
    tail : float
        Estimated mass outside ``box`` relative to the whole (summed over the zooms).
    edge : float
        Share of the mass on the edge of the first (outer) scan: near 0 when the outer
        box holds the integrand's mass.
    """
    box = tuple(float(b) for b in outer_box)
    tail, edge = 0.0, None
    for _ in range(MAX_ZOOMS):
        g = make_grid(box, n_scan)
        lf, _ = evaluate(g.points)
        lf = _checked(lf, g.points.shape[0])
        lw = lf + g.log_weights
        total = logsumexp(lw)
        if not np.isfinite(total):
            raise InputError("the integrand is zero everywhere on the quadrature box")
        frac = np.exp(lw - total)
        if edge is None:
            edge = float(frac[g.on_boundary()].sum())
        order = np.argsort(frac)
        # cells whose combined share (smallest first) stays below tail_mass may be dropped
        droppable = order[np.cumsum(frac[order]) < tail_mass]
        keep = np.ones(frac.size, dtype=bool)
        keep[droppable] = False
        rows, cols = np.nonzero(keep.reshape(g.shape))
        j0, j1 = max(rows.min() - 2, 0), min(rows.max() + 2, n_scan - 1)
        i0, i1 = max(cols.min() - 2, 0), min(cols.max() + 2, n_scan - 1)
        new = (g.z1[i0], g.z1[i1], g.z2[j0], g.z2[j1])
        if cover_box is not None:
            new = union_box(new, cover_box)
            new = (max(new[0], box[0]), min(new[1], box[1]), max(new[2], box[2]), min(new[3], box[3]))
        inside = ((g.points[:, 0] >= new[0]) & (g.points[:, 0] <= new[1])
                  & (g.points[:, 1] >= new[2]) & (g.points[:, 1] <= new[3]))
        tail += float(frac[~inside].sum())
        shrink = _area(new) < 0.5 * _area(box)
        box = new
        if not shrink:
            break
    return box, tail, edge


def integrate_2d(evaluate, outer_box, *, cover_box=None, monitors=None, tol=DEFAULT_TOL,
                 n_start=N_START, n_max=N_MAX, n_scan=None, zoom=True, expand=True):
    """``ln ∫ exp(f(z)) dz`` over a 2-D box, refined until converged.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(points) -> (log_f, aux)`` for points of shape (N, 2); ``aux`` (None or an
        (N,) array) is passed to ``monitors`` and kept for the finest grid.
    outer_box : tuple
        ``(lo1, hi1, lo2, hi2)``: where the mass may be (the prior's and q's ±9 sigma).
    cover_box : tuple, optional
        A box the refined grid must contain (q's ±9 sigma, for expectations under q).
    monitors : callable, optional
        ``monitors(grid, log_f, aux, log_value) -> sequence of float`` (nats); refinement also
        waits for these to settle.
    tol : float
        Stop when the integral and every monitor change by less than this.
    n_start, n_max : int
        First and largest number of points per axis (each level is ``2 n - 1``).
    zoom : bool
        Locate the mass first (default); False refines on ``outer_box`` itself (for
        expectations under q, whose ±9σ box is already the right one).
    expand : bool
        When the outer scan finds more than 1e-9 of the mass on its edge, double the outer
        box (up to ``MAX_EXPANSIONS`` times) before zooming. Off for integrals that may
        diverge (the λ > 1 family), whose value is then the integral over ``outer_box``.

    Returns
    -------
    Integral
    """
    n_scan = N_SCAN if n_scan is None else int(n_scan)
    if zoom:
        outer = tuple(float(b) for b in outer_box)
        for i in range(MAX_EXPANSIONS + 1):
            box, tail, edge = locate(evaluate, outer, cover_box, n_scan=n_scan)
            if not expand or edge <= TAIL_MASS or i == MAX_EXPANSIONS:
                break
            c1, c2 = (outer[0] + outer[1]) / 2, (outer[2] + outer[3]) / 2
            h1, h2 = outer[1] - outer[0], outer[3] - outer[2]
            outer = (c1 - h1, c1 + h1, c2 - h2, c2 + h2)
    else:
        box, tail, edge = tuple(float(b) for b in outer_box), 0.0, None
    n, prev, change, levels = int(n_start), None, np.inf, []
    old_lf = old_aux = None
    while True:
        g = make_grid(box, n)
        if old_lf is None:
            lf, aux = evaluate(g.points)
            lf = _checked(lf, g.points.shape[0])
        else:
            # grid n = 2 m - 1 holds the previous m x m grid at even indices: evaluate only the new points
            even = np.zeros(g.shape, dtype=bool)
            even[::2, ::2] = True
            even = even.ravel()
            new_lf, new_aux = evaluate(g.points[~even])
            lf = np.empty(g.points.shape[0])
            lf[even], lf[~even] = old_lf, _checked(new_lf, int((~even).sum()))
            aux = None
            if old_aux is not None:
                aux = np.empty(g.points.shape[0])
                aux[even], aux[~even] = old_aux, new_aux
        log_value = float(logsumexp(lf + g.log_weights))
        mon = np.array([log_value] + ([] if monitors is None else list(monitors(g, lf, aux, log_value))),
                       dtype=np.float64)
        levels.append({"n": n, "values": mon.tolist()})
        if prev is not None:
            change = float(np.max(np.abs(mon - prev)))
            if change < tol:
                break
        if 2 * n - 1 > n_max:
            break
        prev, n, old_lf, old_aux = mon, 2 * n - 1, lf, aux
    converged = change < tol
    if edge is None:
        edge = float(np.exp(logsumexp((lf + g.log_weights)[g.on_boundary()]) - log_value))
    return Integral(log_value, change + tail, change, tail, converged, g, lf, aux, box, edge, levels)
