"""``rbm-race``: train several methods side by side from the same start, scored exactly per epoch.

What the explorer's Learning tab draws, as numbers. Example::

    python -m explorer rbm-race --data bars-stripes-3 --hidden 12 \\
        --methods exact,cd1,pcd,tap3 --epochs 300 --json

``--data`` is a shipped set (bars-stripes-3, bars-stripes-4, digits-4x4) or a ``.npy`` file of
0/1 rows. ``--details`` adds, for each method's final model, the decomposition
``ln p(v) = -F_c(v) + F``, the most likely patterns with their data frequencies, Gibbs
samples and the hidden units' weights.
"""

from __future__ import annotations

import time

from ._output import print_json


def add_parser(subparsers):
    p = subparsers.add_parser(
        "rbm-race", help="race training methods on one RBM (exact ln p per epoch)",
        description="Train exact, CD-k, PCD, TAP2 and TAP3 side by side from the same initial weights "
                    "and print the exact mean log-likelihood of the training (and held-out) data after "
                    "every epoch.")
    p.add_argument("--data", default="bars-stripes-3",
                   help="bars-stripes-3 | bars-stripes-4 | digits-4x4 | a .npy file of 0/1 rows")
    p.add_argument("--hidden", type=int, default=12, help="hidden units (default 12)")
    p.add_argument("--methods", default="exact,cd1,pcd,tap3",
                   help="comma-separated: exact, cd1, cd<k>, pcd, tap2, tap3 (default exact,cd1,pcd,tap3)")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.2, help="learning rate (default 0.2)")
    p.add_argument("--momentum", type=float, default=0.9, help="default 0.9")
    p.add_argument("--batch-size", type=int, default=None, help="rows per update (default: min(rows, 100))")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--details", action="store_true",
                   help="also print each final model's decomposition, pattern probabilities, samples, weights")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.set_defaults(func=run)


def run(args):
    from ..errors import InputError
    from ..rbm.learning import LEARNING_DATASETS, Race, dataset_from_npy, inspect_model, learning_dataset

    if args.data in LEARNING_DATASETS:
        data = learning_dataset(args.data, seed=args.seed)
    elif args.data.endswith(".npy"):
        try:
            with open(args.data, "rb") as fh:
                content = fh.read()
        except OSError as exc:
            raise InputError(f"--data: cannot read {args.data} ({exc.strerror})") from None
        data = dataset_from_npy(content, args.data, seed=args.seed)
    else:
        raise InputError(f"--data must be one of {', '.join(LEARNING_DATASETS)} or a .npy file, got {args.data!r}")
    race = Race(data, args.hidden, args.methods, learning_rate=args.lr, momentum=args.momentum,
                batch_size=args.batch_size, seed=args.seed)
    t0 = time.perf_counter()
    for _ in race.run(args.epochs):
        pass
    seconds = time.perf_counter() - t0
    out = race.to_dict()
    out["seconds"] = seconds
    if args.details:
        out["models"] = {}
        for m in race.methods:
            ins = inspect_model(race.model(m), data.train, seed=args.seed)
            out["models"][m] = {
                "free_energy": ins.free_energy,
                "decomposition": [{"pattern": p, "is_data": d, "clamped_free_energy": c, "log_p": lp}
                                  for p, d, c, lp in zip(ins.patterns, ins.is_data, ins.clamped, ins.log_p)],
                "top_patterns": [{"pattern": p, "model_probability": q, "data_frequency": f}
                                 for p, q, f in zip(ins.top_patterns, ins.top_probability, ins.top_frequency)],
                "data_mass": ins.data_mass, "samples": ins.samples, "sample_steps": ins.sample_steps,
                "hidden_weights": ins.hidden_weights, "image_shape": list(data.shape)}
    if args.json:
        print_json(out)
        return 0
    print(f"{data.name}: {data.train.shape[0]} training rows"
          + (f", {data.held_out.shape[0]} held out" if data.held_out is not None else "")
          + f"; {race.epoch} epochs in {seconds:.2f} s; best possible mean ln p {data.optimum:.4f}")
    for m, c in race.curves().items():
        line = f"  {m:>6}: final mean ln p {c['train'][-1]:.4f}" if c["train"] else f"  {m:>6}: no epoch"
        if c["held_out"]:
            line += f" (held out {c['held_out'][-1]:.4f})"
        if c["diverged"]:
            line += f"  [{c['diverged']}]"
        print(line)
    return 0
