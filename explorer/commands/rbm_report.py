"""``python -m explorer rbm-report``: every exact and approximate free energy of one RBM."""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def add_parser(subparsers):
    p = subparsers.add_parser(
        "rbm-report",
        help="exact free energy, thermodynamics, mean field, TAP and the cumulant series of an RBM",
        description="Exact ln Z, F, U, S, C of an RBM by enumeration, next to the mean-field "
                    "bound, TAP2/TAP3 and the cumulant series at perturbation strength lambda.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--weights", metavar="FILE.npz",
                     help="RBM parameters: keys weights (nv x nh), visible_bias, hidden_bias")
    src.add_argument("--random", metavar="NVxNH",
                     help="a random RBM of this size instead, e.g. 12x12 (see --seed)")
    p.add_argument("--seed", type=int, default=0, help="seed of --random (default 0)")
    p.add_argument("--temperature", type=float, default=1.0, help="temperature T > 0 (default 1)")
    p.add_argument("--weight-norm", type=float, default=None,
                   help="rescale W to this Frobenius norm before everything")
    p.add_argument("--order", type=int, default=4, help="highest cumulant order K (default 4)")
    p.add_argument("--lam", type=float, default=1.0, help="perturbation strength lambda (default 1)")
    p.add_argument("--reference", choices=["mean-field", "independent"], default="mean-field",
                   help="product reference law of the cumulant expansion")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)
    return p


def _load(args):
    from ..rbm import RBM

    if args.weights is not None:
        return RBM.load(args.weights)
    try:
        nv, nh = (int(x) for x in args.random.lower().split("x"))
    except ValueError:
        raise InputError(f"--random expects NVxNH such as 12x12, got {args.random!r}") from None
    return RBM.random(nv, nh, seed=args.seed)


def report(rbm, *, temperature=1.0, order=4, lam=1.0, reference="mean-field"):
    """The report as a plain dict (the CLI's JSON contract)."""
    from ..rbm import thermodynamics
    from ..rbm.cumulants import cumulant_expansion, lambda_free_energy
    from ..rbm.exact import check_enumerable
    from ..rbm.meanfield import mean_field
    from ..rbm.tap import tap

    check_enumerable(rbm)
    if not np.isfinite(lam):
        raise InputError(f"perturbation strength lambda (--lam) must be finite, got {lam}")
    th = thermodynamics(rbm, temperature)
    mf = mean_field(rbm, temperature)
    ce = cumulant_expansion(rbm, temperature, order=order, reference=reference)
    out = dict(
        n_visible=rbm.n_visible, n_hidden=rbm.n_hidden, temperature=temperature,
        weight_norm=rbm.weight_norm, log_partition=th.log_partition, free_energy=th.free_energy,
        internal_energy=th.internal_energy, entropy=th.entropy, heat_capacity=th.heat_capacity,
        mean_field=dict(free_energy=mf.free_energy, visible=mf.visible, hidden=mf.hidden,
                        converged=mf.converged, minima=mf.minima),
    )
    for o in (2, 3):
        r = tap(rbm, temperature, order=o)
        out[f"tap{o}"] = dict(free_energy=r.free_energy, visible=r.visible, hidden=r.hidden,
                              converged=r.converged, method=r.method)
    out["cumulants"] = dict(reference=reference, order=order, **{"lambda": lam}, kappa=ce.kappa,
                            series=ce.series(lam),
                            exact=lambda_free_energy(rbm, lam, temperature, reference))
    return out


def _table(rep):
    lines = [f"RBM {rep['n_visible']} visible x {rep['n_hidden']} hidden, ||W|| = {rep['weight_norm']:.6g}, "
             f"T = {rep['temperature']:.6g}", ""]
    rows = [("ln Z (exact)", rep["log_partition"]), ("F exact", rep["free_energy"]),
            ("U exact", rep["internal_energy"]), ("S exact", rep["entropy"]),
            ("C exact", rep["heat_capacity"]),
            ("F mean field (bound)", rep["mean_field"]["free_energy"]),
            ("F TAP2" + ("" if rep["tap2"]["converged"] else " (not converged)"), rep["tap2"]["free_energy"]),
            ("F TAP3" + ("" if rep["tap3"]["converged"] else " (not converged)"), rep["tap3"]["free_energy"])]
    cu = rep["cumulants"]
    rows.append((f"F({cu['lambda']:g}) exact", cu["exact"]))
    for k, (kap, ser) in enumerate(zip(cu["kappa"], cu["series"]), start=1):
        rows.append((f"kappa_{k} / series order {k}", f"{kap:14.8g}   {ser:.10g}"))
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        text = value if isinstance(value, str) else f"{value:.10g}"
        lines.append(f"{name:<{width}}  {text}")
    lines.append(f"\ncumulant reference: {cu['reference']}")
    return "\n".join(lines)


def run(args):
    from ..cli import print_json

    rbm = _load(args)
    if args.weight_norm is not None:
        rbm = rbm.with_weight_norm(args.weight_norm)
    rep = report(rbm, temperature=args.temperature, order=args.order, lam=args.lam,
                 reference=args.reference)
    if args.json:
        print_json(rep)
    else:
        print(_table(rep))
    return 0
