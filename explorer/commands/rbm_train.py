"""``rbm-train``: train a binary RBM on a shipped data set and report ln p per epoch.

Example::

    python -m explorer rbm-train --dataset bars-and-stripes --size 3 --hidden 12 \\
        --method exact --epochs 300 --seed 0 --out model.npz --json

CD with k Gibbs steps is spelled ``--method cd5`` or ``--method cdK --k 5`` (the two are
the same; ``cd1`` is CD-1). ``--k`` also sets the sweeps per update of ``pcd``.
"""

from __future__ import annotations

import os
import sys

from ._output import print_json

DEFAULTS = dict(epochs=300, lr=0.2, momentum=0.9, weight_decay=0.0)


def add_parser(subparsers):
    p = subparsers.add_parser(
        "rbm-train", help="train an RBM (exact, CD-k, PCD, TAP2/TAP3 gradients)",
        description="Train a binary RBM on bars-and-stripes or binarised digits. The mean "
                    "log-likelihood of the training data is printed after each epoch: exact "
                    "when the model is enumerable, otherwise an AIS estimate.")
    p.add_argument("--dataset", default="bars-and-stripes", choices=["bars-and-stripes", "digits"])
    p.add_argument("--size", type=int, default=None,
                   help="bars-and-stripes grid side, 2..4 (default 3)")
    p.add_argument("--hidden", type=int, default=12, help="hidden units (default 12)")
    p.add_argument("--method", default="exact",
                   help="exact | cd1 | cd<k> (e.g. cd5) | cdK (with --k) | pcd | tap2 | tap3")
    p.add_argument("--k", type=int, default=None,
                   help="Gibbs sweeps for cdK (required there) and pcd (default 1)")
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"], help="learning rate (default 0.2)")
    p.add_argument("--momentum", type=float, default=DEFAULTS["momentum"], help="default 0.9")
    p.add_argument("--weight-decay", type=float, default=DEFAULTS["weight_decay"])
    p.add_argument("--batch-size", type=int, default=None,
                   help="rows per update (default: min(rows, 100))")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ais-chains", type=int, default=100,
                   help="AIS chains for scoring non-enumerable models")
    p.add_argument("--ais-steps", type=int, default=1000)
    p.add_argument("--out", default=None, help="save the trained model (.npz, loads in rbm-report)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.set_defaults(func=run)


def run(args):
    from ..errors import InputError
    from ..rbm.datasets import load_dataset, optimal_log_likelihood
    from ..rbm.training import train

    if args.dataset != "bars-and-stripes" and args.size is not None:
        raise InputError("--size applies only to --dataset bars-and-stripes")
    if args.out is not None:
        parent = os.path.dirname(os.path.abspath(args.out))
        if not os.path.isdir(parent):
            raise InputError(f"--out: no such directory: {parent}")
        if not args.out.endswith(".npz"):
            raise InputError("--out must name a .npz file")
    data = load_dataset(args.dataset, args.size)
    progress = not args.no_progress and sys.stderr.isatty()
    result = train(data, args.hidden, method=args.method, k=args.k, epochs=args.epochs,
                   learning_rate=args.lr, momentum=args.momentum, weight_decay=args.weight_decay,
                   batch_size=args.batch_size, seed=args.seed, ais_chains=args.ais_chains,
                   ais_steps=args.ais_steps, progress=progress)
    if args.out is not None:
        result.rbm.save(args.out)
    out = result.to_dict()
    out.update(dataset=args.dataset, size=(3 if args.size is None else args.size)
               if args.dataset == "bars-and-stripes" else None,
               hidden=args.hidden, seed=args.seed, optimum=optimal_log_likelihood(data),
               out=args.out)
    if args.json:
        print_json(out)
        return 0
    ll = result.log_likelihood
    se = result.log_likelihood_stderr
    print(f"{result.method}: {result.epochs} epochs in {result.seconds:.2f} s "
          f"({result.evaluation} evaluation)")
    print(f"final mean ln p = {ll[-1]:.4f}" + (f" ± {se[-1]:.4f}" if se[-1] > 0 else "")
          + f"   (best possible {out['optimum']:.4f})")
    if args.out is not None:
        print(f"saved {args.out}")
    return 0
