"""``vae-report``: every free energy of one test image under a VAE checkpoint."""

from __future__ import annotations

import numpy as np

from ._output import print_json


def add_parser(subparsers):
    p = subparsers.add_parser(
        "vae-report", help="free energies of one test image under a VAE",
        description="Exact -ln p(x) (quadrature, 2-D latent), -ELBO as expected energy minus entropy, KLs, "
                    "IWAE bounds, the lambda family, cumulants and their series, and the temperature-T "
                    "free energy, for test image INDEX; with --weight-scale C, all of it for the decoder whose "
                    "weight matrices are multiplied by C (encoder unchanged). Also the importance weights' tail "
                    "(exact Pareto shape 1/lambda*, PSIS k-hat, effective sample size).")
    p.add_argument("--checkpoint", default=None, metavar="FILE.pt",
                   help="VAE checkpoint (default: the 2-D digits model shipped with the package)")
    p.add_argument("--index", type=int, required=True, help="index into the test split")
    p.add_argument("--lam", type=float, default=1.0, help="lambda in [0, 1.5] for F(lambda) and the series")
    p.add_argument("--order", type=int, default=4, help="highest cumulant order, 1..8 (default 4)")
    p.add_argument("--temperature", type=float, default=1.0, help="temperature T > 0 (default 1)")
    # read as text and checked in run(): a bad value is one "error: ..." line, not argparse's usage block
    p.add_argument("--weight-scale", default=1.0, metavar="C",
                   help="multiply every decoder weight matrix by C > 0 (biases kept; the encoder and its q "
                        "unchanged); every number is then for that decoder (default 1: the trained model)")
    p.add_argument("--samples", type=int, default=5000, help="Monte Carlo samples from q (default 5000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto",
                   help="auto (CUDA, else MPS, else CPU; default), cpu, cuda or mps; exact work runs in float64 "
                        "(on the CPU when the model is on MPS, which has no float64)")
    p.add_argument("--data", default=None, metavar="FILE.npz",
                   help="the .npz the checkpoint was trained on, if it moved")
    p.add_argument("--optimise-q", action="store_true",
                   help="also fit q to this image: the exact -ELBO minimised over a diagonal, then a full-covariance "
                        "Gaussian, each the lowest of several starts (the encoder's q, the posterior's modes and "
                        "moments; adds q_optimal, the gaps amortisation, approximation, full_covariance, and "
                        "q_optimal_starts; 2-D latent only)")
    p.add_argument("--q", default=None, metavar="MU1,MU2,SIGMA1,SIGMA2,RHO",
                   help="also every exact term for this Gaussian q (the explorer's Hold q tab): -ELBO(q), E_q[H], "
                        "S[q], KL(q || p(z|x)), cumulants of V and F(lam) at --lam (adds q_held)")
    p.add_argument("--split-gaps", action="store_true",
                   help="also the gaps of every test digit (the Hold q tab's histograms; minutes the first time, "
                        "then cached on disk per checkpoint; adds split_gaps)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args):
    from ..vae import VAESession
    from ..vae._validation import check_array_1d, check_int
    from ..vae.analysis import LAM_MAX, check_weight_scale
    from ..vae.free_energy import MAX_ORDER

    # Validate cheap arguments before loading anything.
    check_array_1d(args.lam, "--lam", lo=0.0, hi=LAM_MAX)
    check_array_1d(args.temperature, "--temperature", positive=True)
    check_int(args.order, "--order", lo=1, hi=MAX_ORDER)
    check_int(args.samples, "--samples", lo=10, hi=50000)
    scale = check_weight_scale(args.weight_scale, "--weight-scale")
    held = None if args.q is None else _parse_q(args.q)
    session = VAESession(args.checkpoint, device=args.device, data=args.data, n_samples=args.samples,
                         seed=args.seed).scaled(scale)
    rep = session.report(args.index, lam=args.lam, order=args.order, temperature=args.temperature)
    if args.optimise_q:
        from ..vae.variational import VariationalPoint

        rep.update(VariationalPoint(session.point(rep["index"])).report())
    if held is not None:
        rep["q_held"] = _held_q_report(session, rep["index"], held, args.lam, args.order)
    if args.split_gaps:
        from ..vae.variational import split_gaps

        g = split_gaps(session, progress=_quiet if args.json else None)   # a tqdm bar on stderr for people
        rep["split_gaps"] = {k: np.asarray(v).tolist() for k, v in g.columns().items()}
    if args.json:
        print_json(rep)
    else:
        print_table(rep)
    return 0


def _quiet(done, total):
    """No progress bar in --json output (stdout is the JSON); tqdm's bar goes to stderr otherwise."""


def _parse_q(text):
    from ..errors import InputError
    from ..vae.variational import GaussianQ

    try:
        values = [float(v) for v in str(text).split(",")]
    except ValueError:
        raise InputError(f"--q must be five numbers MU1,MU2,SIGMA1,SIGMA2,RHO, got {text!r}") from None
    if len(values) != 5:
        raise InputError(f"--q must be five numbers MU1,MU2,SIGMA1,SIGMA2,RHO, got {text!r}")
    return GaussianQ.from_sigmas(values[:2], values[2], values[3], values[4])


def _held_q_report(session, index, q, lam, order):
    from ..vae.variational import VariationalPoint

    vp = VariationalPoint(session.point(index))
    t = vp.terms(q, order=order)
    return {"mu": q.mu.tolist(), "cov": q.cov.tolist(), "neg_elbo": t.neg_elbo,
            "expected_energy": t.expected_energy, "entropy": t.entropy, "kl_posterior": t.kl_posterior,
            "free_energy": t.free_energy, "quadrature_error": t.quadrature_error,
            "cumulants": t.cumulants.tolist(), "lam": float(lam),
            "lam_exact": float(vp.lam_curve(q, [lam])[0]),
            "series": vp.series(q, [lam], order)[:, 0].tolist()}


def _f(v, nd=4):
    return "n/a" if v is None else f"{v:.{nd}f}"


def print_table(rep):
    x = rep["x"]
    side = int(round(len(x) ** 0.5))
    print(f"test image {rep['index']} (label {rep['label']}) from {rep['checkpoint']}")
    if rep.get("weight_scale", 1.0) != 1.0:
        print(f"decoder weight scale c = {rep['weight_scale']:g}: every decoder weight matrix x c, "
              f"biases and encoder unchanged")
    if side * side == len(x):
        for r in range(side):
            print("  " + "".join("#" if b else "." for b in x[r * side:(r + 1) * side]))
    mc = rep["mc"]
    exact_label = "-ln p(x) exact (quadrature)" if rep["exact_method"] == "quadrature" else \
        f"-ln p(x) [{rep['exact_method']}]"
    err = rep["quadrature_error"] if rep["quadrature_error"] is not None else rep["exact_free_energy_stderr"]
    rows = [
        (exact_label, rep["exact_free_energy"], err),
        ("-ELBO = E_q[H] - S[q]", rep["neg_elbo"], None),
        ("  expected energy E_q[H]", rep["expected_energy"], None),
        ("  entropy S[q]", rep["entropy"], None),
        ("KL(q || prior)", rep["kl_prior"], None),
        ("KL(q || p(z|x)) = gap", rep["kl_posterior"], None),
    ]
    print(f"\n{'quantity (nats)':<34}{'exact':>12}{'error':>11}{'MC':>12}{'MC stderr':>11}")
    mc_of = {1: ("neg_elbo",), 2: ("expected_energy",), 3: ("entropy",)}
    for i, (name, val, e) in enumerate(rows):
        mk = mc_of.get(i)
        mcv = mc[mk[0]] if mk else (mc["kl_posterior"] if i == 5 else None)
        mce = mc[mk[0] + "_stderr"] if mk else None
        print(f"{name:<34}{_f(val):>12}{(format(e, '.1e') if e is not None else ''):>11}"
              f"{(_f(mcv) if mcv is not None else ''):>12}{(_f(mce) if mce is not None else ''):>11}")
    iw = rep["iwae"]
    print(f"\nIWAE free energies -L_K (one pool of {iw['pool']} draws cut into groups of K; ± = standard error "
          f"from the spread of the groups: the estimate's noise, not its bias above -ln p(x))")
    for k, b, s in zip(iw["k"], iw["bound"], iw["stderr"]):
        err = f" ± {_f(s)}" if s is not None else "   (one group of K in the pool: no spread, no error bar)"
        print(f"  K = {k:<6d}{_f(b):>12}{err}")
    w = rep["weights"]
    verdict = "reliable" if w["reliable"] else "UNRELIABLE"
    print(f"\nimportance weights w = p(x,z)/q(z|x): tail index lambda* = {w['lam_critical']:.4f}, "
          f"exact Pareto shape k = 1/lambda* = {w['pareto_k_exact']:.3f}; variance "
          f"{'finite' if w['variance_finite'] else 'infinite (lambda* <= 2)'}")
    print(f"  PSIS k-hat = {_f(w['pareto_k_hat'], 3)} from {w['n']} draws: importance-sampling estimate {verdict} "
          f"(k-hat {'<=' if w['reliable'] else '>'} {w['k_threshold']:.2f}); ESS {w['ess']:.1f} of {w['n']}; "
          f"-ln p(x): raw {_f(w['raw_free_energy'])}, PSIS {_f(w['psis_free_energy'])}")
    lam = rep["lam"]
    cum = rep["cumulants"]
    mc_err = f"± {_f(lam['mc_stderr'])}" if lam["mc_stderr"] is not None else \
        "(variance infinite for 2 lambda >= lambda*: no error bar)"
    print(f"\nF(lambda = {lam['lam']}): exact {_f(lam['exact'])}, MC {_f(lam['mc'])} {mc_err}")
    if lam.get("diverges"):
        print(f"  E_q[w^lambda] diverges for lambda >= lambda* = {lam['lam_critical']:.4f}: the exact F is -inf; "
              f"the finite MC value has infinite variance")
    print(f"{'n':>4}{'kappa exact':>14}{'kappa MC':>14}{'± stderr':>12}{'series to n':>14}")
    for n in range(cum["order"]):
        ke = None if cum["kappa"] is None else cum["kappa"][n]
        se = None if cum["series"] is None else cum["series"][n]
        print(f"{n + 1:>4}{_f(ke):>14}{_f(cum['kappa_mc'][n]):>14}{_f(cum['kappa_mc_stderr'][n]):>12}{_f(se):>14}")
    t = rep["temperature"]
    print(f"\nT = {t['T']}: F_T exact {_f(t['exact'])}, bound E_q[H] - T S[q] {_f(t['bound'])}")
    if "q_optimal" in rep:
        print_optimal_q(rep)
    if "q_held" in rep:
        h = rep["q_held"]
        print(f"\nyour q: mu {_vec(h['mu'])}, cov {_vec(h['cov'][0])} {_vec(h['cov'][1])} (exact, nats)")
        print(f"  -ELBO(q) = E_q[H] - S[q]  {_f(h['neg_elbo']):>12}  = {_f(h['expected_energy'])} - "
              f"({_f(h['entropy'])})")
        print(f"  KL(q || p(z|x))           {_f(h['kl_posterior']):>12}")
        print(f"  F(lambda = {h['lam']}) exact     {_f(h['lam_exact']):>12}; series to order {len(h['series'])}: "
              f"{_f(h['series'][-1])}")
    if "split_gaps" in rep:
        g = rep["split_gaps"]
        print(f"\ngaps over the {len(g['index'])} test digits (nats): amortisation median "
              f"{np.median(g['amortisation']):.4f} (max {np.max(g['amortisation']):.4f}), approximation median "
              f"{np.median(g['approximation']):.4f} (max {np.max(g['approximation']):.4f})")


def print_optimal_q(rep):
    d, full, g = rep["q_optimal"]["diagonal"], rep["q_optimal"]["full"], rep["gaps"]
    st = rep.get("q_optimal_starts")
    print("\nq fitted to this image (exact -ELBO minimised; every value exact by quadrature, nats)")
    for kind, v in (st or {}).items():
        print(f"  {kind} q: lowest of {v['n_starts']} starts ({v['n_optima']} distinct optima), "
              f"the best from {v['best_start']}")
    print(f"  -ln p(x)              {_f(rep['exact_free_energy']):>12}")
    print(f"  -ELBO(q*_full)        {_f(full['neg_elbo']):>12}   mu {_vec(full['mu'])}, cov {_vec(full['cov'][0])} "
          f"{_vec(full['cov'][1])}")
    print(f"  -ELBO(q*_diagonal)    {_f(d['neg_elbo']):>12}   mu {_vec(d['mu'])}, logvar {_vec(d['logvar'])}")
    print(f"  -ELBO(q_encoder)      {_f(rep['neg_elbo']):>12}")
    print(f"  amortisation gap      {_f(g['amortisation']):>12}   (encoder - best diagonal q)")
    print(f"  approximation gap     {_f(g['approximation']):>12}   (best diagonal q - exact)")
    print(f"  full-covariance gain  {_f(g['full_covariance']):>12}   (best diagonal q - best full q)")


def _vec(v):
    return "(" + ", ".join(f"{x:.4f}" for x in v) + ")"
