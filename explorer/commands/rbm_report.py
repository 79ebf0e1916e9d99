"""``python -m explorer rbm-report``: every exact and approximate free energy of one RBM."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ._output import print_json


def add_parser(subparsers):
    p = subparsers.add_parser(
        "rbm-report",
        help="exact free energy, thermodynamics, mean field, TAP and the cumulant series of an RBM",
        description="Exact ln Z, F, U, S, C of an RBM by enumeration, next to the mean-field "
                    "bound, TAP2/TAP3 and the cumulant series at perturbation strength lambda.")
    add_model_arguments(p)
    p.add_argument("--order", type=int, default=4, help="highest cumulant order K (default 4)")
    p.add_argument("--lam", type=float, default=1.0, help="perturbation strength lambda (default 1)")
    p.add_argument("--reference", choices=["mean-field", "independent"], default="mean-field",
                   help="product reference law of the cumulant expansion")
    p.add_argument("--ais-chains", type=int, default=None, metavar="N",
                   help="add an annealed-importance-sampling estimate of ln Z with N chains")
    p.add_argument("--ais-steps", type=int, default=1000, metavar="S",
                   help="intermediate distributions of AIS (default 1000)")
    p.add_argument("--data", metavar="FILE.npy",
                   help="binary visible rows (n x n_visible): adds reverse AIS started from them")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)
    return p


def add_model_arguments(p):
    """The model source (``--weights`` or ``--random`` with ``--seed``), ``--temperature`` and
    ``--weight-norm``: shared by the RBM commands that take one model (see :func:`load_model`)."""
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--weights", metavar="FILE.npz",
                     help="RBM parameters: keys weights (nv x nh), visible_bias, hidden_bias")
    src.add_argument("--random", metavar="NVxNH",
                     help="a random RBM of this size instead, e.g. 12x12 (see --seed)")
    p.add_argument("--seed", type=int, default=0, help="seed of --random (default 0)")
    p.add_argument("--temperature", type=float, default=1.0, help="temperature T > 0 (default 1)")
    p.add_argument("--weight-norm", type=float, default=None,
                   help="rescale W to this Frobenius norm before everything")


def load_model(args):
    """The RBM the arguments of :func:`add_model_arguments` name, with ``--weight-norm`` applied."""
    rbm = _load(args)
    if args.weight_norm is not None:
        rbm = rbm.with_weight_norm(args.weight_norm)
    return rbm


def _load(args):
    from ..rbm import RBM

    if args.weights is not None:
        return RBM.load(args.weights)
    try:
        nv, nh = (int(x) for x in args.random.lower().split("x"))
    except ValueError:
        raise InputError(f"--random expects NVxNH such as 12x12, got {args.random!r}") from None
    return RBM.random(nv, nh, seed=args.seed)


def _load_data(path, n_visible):
    import os

    if not os.path.isfile(path):
        raise InputError(f"no such file: {path}")
    try:
        data = np.load(path, allow_pickle=False)
    except ValueError:
        raise InputError(f"{path}: refused to load an array that needs pickle; store a plain 0/1 array") from None
    except OSError as exc:
        raise InputError(f"{path} is not a readable .npy file ({exc})") from None
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != n_visible:
        raise InputError(f"{path} must hold a 2-D array with {n_visible} columns (one per visible unit)")
    if not np.all((data == 0) | (data == 1)):
        raise InputError(f"{path} must contain only 0 and 1")
    return data.astype(np.float64)


def report(rbm, *, temperature=1.0, order=4, lam=1.0, reference="mean-field", ais_chains=None,
           ais_steps=1000, data=None, seed=0):
    """The report as a plain dict (the CLI's JSON contract).

    Without ``ais_chains`` the model must be enumerable. With it, a model too large to
    enumerate still gets mean field, TAP and the AIS estimate; the exact fields are then
    ``None`` and ``exact_available`` is false.
    """
    from ..errors import EnumerationLimitError
    from ..rbm import thermodynamics
    from ..rbm.cumulants import cumulant_expansion, lambda_free_energy
    from ..rbm.exact import check_enumerable
    from ..rbm.meanfield import mean_field
    from ..rbm.tap import tap

    if not np.isfinite(lam):
        raise InputError(f"perturbation strength lambda (--lam) must be finite, got {lam}")
    try:
        check_enumerable(rbm)
        exact_available = True
    except EnumerationLimitError as exc:
        if ais_chains is None:
            raise EnumerationLimitError(f"{exc} (rbm-report: add --ais-chains N)") from None
        exact_available = False
    mf = mean_field(rbm, temperature)
    out = dict(n_visible=rbm.n_visible, n_hidden=rbm.n_hidden, temperature=temperature,
               weight_norm=rbm.weight_norm, exact_available=exact_available)
    if exact_available:
        th = thermodynamics(rbm, temperature)
        out.update(log_partition=th.log_partition, free_energy=th.free_energy,
                   internal_energy=th.internal_energy, entropy=th.entropy,
                   heat_capacity=th.heat_capacity)
    else:
        out.update(dict.fromkeys(["log_partition", "free_energy", "internal_energy", "entropy",
                                  "heat_capacity"]))
    out["mean_field"] = dict(free_energy=mf.free_energy, visible=mf.visible, hidden=mf.hidden,
                             converged=mf.converged, minima=mf.minima, exhaustive=mf.exhaustive,
                             n_starts=mf.n_starts)
    for o in (2, 3):
        r = tap(rbm, temperature, order=o)
        out[f"tap{o}"] = dict(free_energy=r.free_energy, visible=r.visible, hidden=r.hidden,
                              converged=r.converged, method=r.method)
    if exact_available:
        ce = cumulant_expansion(rbm, temperature, order=order, reference=reference)
        out["cumulants"] = dict(reference=reference, order=order, **{"lambda": lam}, kappa=ce.kappa,
                                series=ce.series(lam),
                                exact=lambda_free_energy(rbm, lam, temperature, reference))
    else:
        out["cumulants"] = None
    if ais_chains is not None:
        from ..rbm.sampling import ais_log_partition, reverse_ais_log_partition

        out["ais"] = ais_log_partition(rbm, temperature, n_chains=ais_chains, n_steps=ais_steps,
                                       seed=seed).to_dict()
        if data is not None:
            out["reverse_ais"] = reverse_ais_log_partition(
                rbm, data, temperature, n_chains=min(ais_chains, len(data)), n_steps=ais_steps,
                seed=seed).to_dict()
    elif data is not None:
        raise InputError("--data is used by reverse AIS: give --ais-chains N too")
    return out


def _table(rep):
    lines = [f"RBM {rep['n_visible']} visible x {rep['n_hidden']} hidden, ||W|| = {rep['weight_norm']:.6g}, "
             f"T = {rep['temperature']:.6g}", ""]
    rows = []
    if rep["exact_available"]:
        rows += [("ln Z (exact)", rep["log_partition"]), ("F exact", rep["free_energy"]),
                 ("U exact", rep["internal_energy"]), ("S exact", rep["entropy"]),
                 ("C exact", rep["heat_capacity"])]
    else:
        rows.append(("exact", "too large to enumerate"))
    for key, label in (("ais", "ln Z (AIS)"), ("reverse_ais", "ln Z (reverse AIS)")):
        if key in rep:
            rows.append((label, f"{rep[key]['log_partition']:.10g} ± {rep[key]['stderr']:.2g} "
                                f"({rep[key]['chains']} chains x {rep[key]['steps']} steps)"))
    rows += [
            ("F mean field (bound)", rep["mean_field"]["free_energy"]),
            ("F TAP2" + ("" if rep["tap2"]["converged"] else " (not converged)"), rep["tap2"]["free_energy"]),
            ("F TAP3" + ("" if rep["tap3"]["converged"] else " (not converged)"), rep["tap3"]["free_energy"])]
    cu = rep["cumulants"]
    if cu is not None:
        rows.append((f"F({cu['lambda']:g}) exact", cu["exact"]))
        for k, (kap, ser) in enumerate(zip(cu["kappa"], cu["series"]), start=1):
            rows.append((f"kappa_{k} / series order {k}", f"{kap:14.8g}   {ser:.10g}"))
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        text = value if isinstance(value, str) else f"{value:.10g}"
        lines.append(f"{name:<{width}}  {text}")
    if cu is not None:
        lines.append(f"\ncumulant reference: {cu['reference']}")
    return "\n".join(lines)


def run(args):

    rbm = load_model(args)
    data = _load_data(args.data, rbm.n_visible) if args.data else None
    rep = report(rbm, temperature=args.temperature, order=args.order, lam=args.lam,
                 reference=args.reference, ais_chains=args.ais_chains, ais_steps=args.ais_steps,
                 data=data, seed=args.seed)
    if args.json:
        print_json(rep)
    else:
        print(_table(rep))
    return 0
