"""``python -m explorer rbm-meanfield``: the mean-field iteration from a chosen q, and the basins.

What the explorer's "Hold q" tab shows, as JSON: the path (F[q], TAP2, TAP3 per iteration and the
final magnetisations), the exact F (every F[q] is above it), the distinct minima reached from
random starts with their counts, and mean field's own answer (key ``mean_field``: the lowest
minimum of :func:`explorer.rbm.meanfield.mean_field`, with ``exhaustive``: whether the corner
search of the smaller layer, or a contracting map, backs it; false above
:data:`explorer.rbm.meanfield.CORNER_LIMIT` units: the lowest found).
"""

from __future__ import annotations

from ..errors import InputError
from ._output import print_json
from .rbm_report import add_model_arguments, load_model


def add_parser(subparsers):
    from ..rbm.playground import MAX_DAMPING, STARTS

    p = subparsers.add_parser(
        "rbm-meanfield",
        help="the mean-field iteration from a chosen product law q, and the minima of random starts",
        description="Iterate mean field from a start (F[q] >= exact F at every step, TAP2/TAP3 alongside: "
                    "not bounds) and count which minimum each of N random starts reaches.")
    add_model_arguments(p)
    p.add_argument("--start", choices=list(STARTS), default="half", help="the start q (default half: all 1/2)")
    p.add_argument("--start-seed", type=int, default=0, help="seed of --start random (default 0)")
    p.add_argument("--damping", type=float, default=0.0,
                   help=f"damping d in [0, {MAX_DAMPING}]: m <- (1-d) update + d m (default 0)")
    p.add_argument("--first", choices=["hidden", "visible"], default="hidden",
                   help="the layer each iteration updates first (default hidden)")
    p.add_argument("--max-iter", type=int, default=2000, help="longest path (default 2000)")
    p.add_argument("--starts", type=int, default=50, help="random starts of the basin count (default 50)")
    p.add_argument("--basin-seed", type=int, default=0, help="seed of the random starts (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)
    return p


def meanfield_report(rbm, *, temperature=1.0, start="half", start_seed=0, damping=0.0, first="hidden",
                     max_iter=2000, n_starts=50, basin_seed=0):
    """The report as a plain dict (the CLI's JSON contract)."""
    from ..rbm import playground as pg
    from ..rbm.exact import check_enumerable
    from ..rbm.meanfield import mean_field

    check_enumerable(rbm)
    mv, mh = pg.start_magnetisations(rbm, temperature, start, seed=start_seed)
    path = pg.mean_field_path(rbm, temperature, mv, mh, damping=damping, first=first, max_iter=max_iter)
    minima = pg.basins(rbm, temperature, n_starts, seed=basin_seed)
    exact = pg.exact_free_energy(rbm, temperature)
    mf = mean_field(rbm, temperature)
    return dict(
        n_visible=rbm.n_visible, n_hidden=rbm.n_hidden, temperature=float(temperature),
        weight_norm=rbm.weight_norm, exact_free_energy=exact, start=start,
        start_seed=start_seed if start == "random" else None,
        path=dict(damping=path.damping, first=path.first, converged=path.converged,
                  n_iterations=path.n_iterations,
                  iterations=[dict(iteration=k, F_q=path.free_energy[k], tap2=path.tap2[k], tap3=path.tap3[k])
                              for k in range(path.n_iterations + 1)],
                  start_visible=path.visible[0], start_hidden=path.hidden[0],
                  visible=path.visible[-1], hidden=path.hidden[-1]),
        n_starts=n_starts,
        minima=[dict(free_energy=m.free_energy, count=m.count, visible=m.visible, hidden=m.hidden) for m in minima],
        mean_field=dict(free_energy=mf.free_energy, exhaustive=mf.exhaustive, n_starts=mf.n_starts,
                        visible=mf.visible, hidden=mf.hidden))


def _table(rep):
    p = rep["path"]
    first, last = p["iterations"][0], p["iterations"][-1]
    after = f"F[q] after {p['n_iterations']} iterations"
    rows = [("exact F", f"{rep['exact_free_energy']:.10g}"),
            ("F[q] at the start (a bound)", f"{first['F_q']:.10g}"),
            (after, f"{last['F_q']:.10g}" + ("" if p["converged"] else " (not stationary yet)")),
            ("TAP2, TAP3 there (no bounds)", f"{last['tap2']:.10g}, {last['tap3']:.10g}"),
            ("mean field (lowest minimum)", f"{rep['mean_field']['free_energy']:.10g}"
             + (" (corner search)" if rep["mean_field"]["exhaustive"] else " (lowest found, not exhaustive)"))]
    lines = [f"RBM {rep['n_visible']} visible x {rep['n_hidden']} hidden, ||W|| = {rep['weight_norm']:.6g}, "
             f"T = {rep['temperature']:.6g}, start {rep['start']}, damping {p['damping']:g}", ""]
    lines += [f"{name:<29}{value}" for name, value in rows]
    lines += ["", f"minima from {rep['n_starts']} random starts:"]
    lines += [f"  F[q] = {m['free_energy']:.10g}   reached by {m['count']}" for m in rep["minima"]]
    return "\n".join(lines)


def run(args):
    if args.starts < 1:
        raise InputError(f"--starts must be >= 1, got {args.starts}")
    rbm = load_model(args)
    rep = meanfield_report(rbm, temperature=args.temperature, start=args.start, start_seed=args.start_seed,
                           damping=args.damping, first=args.first, max_iter=args.max_iter,
                           n_starts=args.starts, basin_seed=args.basin_seed)
    if args.json:
        print_json(rep)
    else:
        print(_table(rep))
    return 0
