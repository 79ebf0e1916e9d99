"""The best diagonal q of every test digit is the lowest optimum, not the encoder's local one (issue 24).

Independent of explorer.vae.variational's starts and optimiser: the modes of each digit's posterior are
found here on a fixed uniform grid (local maxima over 8 neighbours), a diagonal Gaussian is started at each
with its curvature there, and fitted by this file's own Newton / fixed-point iteration for Gaussian
variational inference (Stein's identities on a tensor Gauss–Hermite rule: E_q[∂H] = E_q[H ξ]/σ,
E_q[∂²H] from E_q[H (ξξᵀ - I)]; the optimum has 1/σ_i² = E_q[∂_ii H]), batched over every (digit, mode).
Its -ELBO is then evaluated on a finer rule and must not fall below the shipped -ELBO(q*_diag): any q
with a lower exact -ELBO proves the shipped optimum is not the lowest. (Against the shipped file of
CODE_VERSION 1, whose fits started from the encoder's q only, this fails on digits 12, 20, 31, 65, 135
and 219 (diagonal; gains 0.98, 1.00, 0.004, 0.43, 1.73, 4.05 nats) and 20, 65, 219 (full); measured
2026-12-06. About 35 s on one core.)
"""

import math
import os

import numpy as np
import torch
from numpy.polynomial.hermite_e import hermegauss

from explorer.vae.variational import SHIPPED_CACHE, VariationalPoint, split_cache_path

#: the posterior's grid: the prior's ±5σ box, 0.05 apart (the sharpest posteriors have σ ≈ 0.1)
BOX, STEP = 5.0, 0.05
#: modes tried per digit, highest first, down to this many nats below the highest
MAX_MODES, DEPTH = 5, 15.0
#: Gauss–Hermite nodes per axis: the fits, the final evaluation
N_FIT, N_EVAL = 16, 48
#: a q this far below the shipped optimum fails the test (the 48-node rule's error at fitted q's is ~1e-8)
TOL = 1e-5


def shipped_gaps(session):
    path = os.path.join(SHIPPED_CACHE, os.path.basename(split_cache_path(session)))
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in ("index", "free_energy", "neg_elbo_diagonal", "neg_elbo_full")}


def log_lik_on_grid(model, xs, z):
    """ln p(x|z) for every image of ``xs`` (n, 64) at every point of ``z`` (m, 2): (n, m); one decoder pass."""
    with torch.no_grad():
        logits = model.decode(torch.as_tensor(z, dtype=torch.float64))          # (m, 64)
        x = torch.as_tensor(xs, dtype=torch.float64)
        return (x @ logits.T - torch.nn.functional.softplus(logits).sum(1)[None, :]).numpy()


def grid_modes(model, xs):
    """Per image: list of (mode (2,), precision (2, 2)) from the uniform grid, highest first; the precision is
    -∂²ln p by central differences where that is positive definite, else its positive diagonal (1/0.3² where
    that is not positive either)."""
    axis = np.arange(-BOX, BOX + STEP / 2, STEP)
    z = np.stack(np.meshgrid(axis, axis, indexing="xy"), -1).reshape(-1, 2)
    n = axis.size
    log_prior = -0.5 * (z ** 2).sum(1)
    out = []
    for start in range(0, len(xs), 64):
        lp = (log_lik_on_grid(model, xs[start:start + 64], z) + log_prior).reshape(-1, n, n)   # rows: z2
        for f in lp:
            pad = np.pad(f, 1, constant_values=-np.inf)
            peak = np.ones_like(f, dtype=bool)
            for a in (-1, 0, 1):
                for b in (-1, 0, 1):
                    if a or b:
                        peak &= f >= pad[1 + a:1 + a + n, 1 + b:1 + b + n]
            peak[[0, -1], :] = peak[:, [0, -1]] = False         # the box's edge is far out in the prior's tail
            r, c = np.nonzero(peak)
            order = np.argsort(-f[r, c])
            modes = []
            for j in order:
                if len(modes) == MAX_MODES or f[r[j], c[j]] < f[r[order[0]], c[order[0]]] - DEPTH:
                    break
                i2, i1 = r[j], c[j]
                if any(abs(i2 - m[0]) <= 2 and abs(i1 - m[1]) <= 2 for m in modes):
                    continue
                h11 = (f[i2, i1 + 1] - 2 * f[i2, i1] + f[i2, i1 - 1]) / STEP ** 2
                h22 = (f[i2 + 1, i1] - 2 * f[i2, i1] + f[i2 - 1, i1]) / STEP ** 2
                h12 = (f[i2 + 1, i1 + 1] - f[i2 + 1, i1 - 1] - f[i2 - 1, i1 + 1] + f[i2 - 1, i1 - 1]) / (4 * STEP ** 2)
                prec = -np.array([[h11, h12], [h12, h22]])
                if np.linalg.eigvalsh(prec)[0] <= 1e-2:
                    prec = np.diag([p if p > 1e-2 else 1 / 0.09 for p in np.diag(prec)])
                modes.append((i2, i1, np.array([axis[i1], axis[i2]]), prec))
            out.append([(m[2], m[3]) for m in modes])
    return out


def gh(n):
    x, w = hermegauss(n)
    w = w / w.sum()
    xi = np.stack(np.meshgrid(x, x, indexing="xy"), -1).reshape(-1, 2)
    return torch.as_tensor(xi), torch.as_tensor(np.outer(w, w).ravel())


def energies(model, x, mu, L, xi):
    """H = -ln p(x, z) at the nodes z = μ + L ξ of every pair: (P, K)."""
    z = mu[:, None, :] + xi[None] @ L.transpose(1, 2)
    with torch.no_grad():
        logits = model.decode(z)                                               # (P, K, 64)
        ll = (x[:, None, :] * logits - torch.nn.functional.softplus(logits)).sum(-1)
    return -(ll - 0.5 * (z ** 2).sum(-1) - math.log(2 * math.pi))


def neg_elbo(H, w, L):
    """E_q[H] - S[q], S = (1/2) ln det(2πe Σ) = ln(2πe) + Σ ln L_ii."""
    return H @ w - math.log(2 * math.pi * math.e) - torch.log(torch.diagonal(L, dim1=1, dim2=2)).sum(1)


def fit_gaussian(model, x, mu, prec, full, n_nodes=N_FIT, max_iter=300):
    """Batched natural-gradient (Newton) iteration for Gaussian variational inference, one backtracking step
    per pair, accepted only where -ELBO falls. With g = E_q[∇H] and Λ = E_q[∇²H] (Stein's identities in
    q's coordinates: g = L⁻ᵀ E[H ξ], Λ = L⁻ᵀ E[H (ξξᵀ - I)] L⁻¹; Λ's eigenvalues raised to a quarter of the
    precision's smallest): μ ← μ - α Λ⁻¹ g, precision P ← (1 - α) P + α Λ (its diagonal only, unless ``full``).
    The fixed point is the optimum's condition: g = 0, P = Λ (diagonal: P_ii = Λ_ii)."""
    xi, w = gh(n_nodes)
    eye = torch.eye(2, dtype=torch.float64)

    def scale(P):
        return torch.linalg.cholesky(torch.linalg.inv(P))

    mu, P = mu.clone(), prec.clone()
    L = scale(P)
    H = energies(model, x, mu, L, xi)
    f = neg_elbo(H, w, L)
    alpha = torch.ones(len(mu), dtype=torch.float64)
    active = torch.ones(len(mu), dtype=torch.bool)
    for _ in range(max_iter):
        idx = torch.nonzero(active).ravel()
        if idx.numel() == 0:
            break
        Hi, Li, Pi = H[idx], L[idx], P[idx]
        Linv_t = torch.linalg.inv(Li).transpose(1, 2)
        g = (Linv_t @ ((Hi * w) @ xi)[:, :, None])[:, :, 0]
        m2 = torch.einsum("pk,k,ki,kj->pij", Hi, w, xi, xi) - (Hi @ w)[:, None, None] * eye
        lam = Linv_t @ m2 @ Linv_t.transpose(1, 2)
        lam = 0.5 * (lam + lam.transpose(1, 2))
        ev, vec = torch.linalg.eigh(lam)
        floor = 0.25 * torch.linalg.eigvalsh(Pi)[:, :1]
        lam = vec @ torch.diag_embed(torch.maximum(ev, floor)) @ vec.transpose(1, 2)
        target = lam if full else torch.diag_embed(torch.diagonal(lam, dim1=1, dim2=2))
        a = alpha[idx]
        mu_t = mu[idx] - a[:, None] * torch.linalg.solve(lam, g[:, :, None])[:, :, 0]
        P_t = (1 - a)[:, None, None] * Pi + a[:, None, None] * target
        L_t = scale(P_t)
        H_t = energies(model, x[idx], mu_t, L_t, xi)
        f_t = neg_elbo(H_t, w, L_t)
        ok = f_t < f[idx]
        done = ((f[idx] - f_t < 1e-11) & (a >= 1.0)) | (a < 1e-8)
        acc = idx[ok]
        mu[acc], P[acc], L[acc], H[acc], f[acc] = mu_t[ok], P_t[ok], L_t[ok], H_t[ok], f_t[ok]
        alpha[idx] = torch.where(ok, (2 * a).clamp(max=1.0), a / 2)
        active[idx[done]] = False
    return mu, P, L


def search(model, xs):
    """Fits from every grid mode of every image: diagonal ones from the mode (its precision's diagonal), full
    ones from each diagonal result. Returns the pairs' digits and, per kind, (μ, L, -ELBO on N_EVAL nodes)."""
    modes = grid_modes(model, xs)
    assert len(modes) == len(xs) and all(modes)
    digit = np.array([i for i, m in enumerate(modes) for _ in m])
    mu0 = torch.as_tensor(np.array([z for m in modes for z, _ in m]))
    prec0 = torch.as_tensor(np.array([p for m in modes for _, p in m]))
    x = torch.as_tensor(xs[digit])
    xi, w = gh(N_EVAL)
    out = {}
    mu, P, L = fit_gaussian(model, x, mu0, torch.diag_embed(torch.diagonal(prec0, dim1=1, dim2=2)), full=False)
    mu_f, _, L_f = fit_gaussian(model, x, mu, P, full=True)
    for kind, (m, chol) in (("diagonal", (mu, L)), ("full", (mu_f, L_f))):
        values = torch.cat([neg_elbo(energies(model, x[k:k + 128], m[k:k + 128], chol[k:k + 128], xi), w,
                                     chol[k:k + 128])
                            for k in range(0, len(m), 128)])
        out[kind] = (m.numpy(), chol.numpy(), values.numpy())
    return digit, out


def lowest_per_digit(digit, values, n):
    best = np.full(n, np.inf)
    np.minimum.at(best, digit, values)
    return best


def test_no_start_at_a_posterior_mode_beats_the_shipped_optimum(shipped_session):
    """Every test digit: a diagonal q fitted from each mode of the exact posterior, and a full-covariance q
    fitted from each of those, is never below the shipped -ELBO(q*_diag), -ELBO(q*_full); a q that is below
    is confirmed with the project's own exact -ELBO (96 nodes) before it fails the test. On most digits the
    search reaches the shipped optimum itself (a check that it searches at all)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)          # small batched tensors: one thread is fastest on a shared machine
    try:
        check_every_digit(shipped_session)
    finally:
        torch.set_num_threads(threads)


def check_every_digit(shipped_session):
    from explorer.vae.variational import GaussianQ

    model = shipped_session.model64
    xs = shipped_session.dataset.test.astype(np.float64)
    shipped = shipped_gaps(shipped_session)
    n = len(xs)
    assert shipped["index"].tolist() == list(range(n))
    assert np.all(shipped["neg_elbo_full"] <= shipped["neg_elbo_diagonal"] + 1e-10)
    digit, found = search(model, xs)
    failures = {}
    for kind, key in (("diagonal", "neg_elbo_diagonal"), ("full", "neg_elbo_full")):
        mu, L, values = found[kind]
        best = lowest_per_digit(digit, values, n)
        gap = best - shipped[key]
        for p in np.argsort(values - shipped[key][digit]):      # per digit, the largest gain first
            i = int(digit[p])
            if values[p] >= shipped[key][i] - TOL:
                break
            if i in failures.get(kind, {}):
                continue
            exact = VariationalPoint(shipped_session.point(i)).neg_elbo(GaussianQ(mu[p], L[p]))
            if exact < shipped[key][i] - TOL:
                failures.setdefault(kind, {})[i] = (round(float(shipped[key][i] - exact), 5), mu[p].round(3).tolist(),
                                                    (L[p] @ L[p].T).round(4).tolist())
        reached = np.mean(np.abs(gap) < 1e-4)
        assert reached > 0.9, (kind, reached)
    assert not failures, f"a fit from a posterior mode beats the shipped optimum (kind: digit: gain, μ, Σ): {failures}"
