"""``vae-train``: train the VAE on binarised digits (or a user's .npz) and write a checkpoint."""

from __future__ import annotations

import os

from ..errors import InputError
from ._output import print_json


def add_parser(subparsers):
    p = subparsers.add_parser(
        "vae-train", help="train the VAE and write a checkpoint",
        description="Train the VAE (Adam, early stopping on the validation ELBO) on scikit-learn's binarised "
                    "8x8 digits or a user's .npz of images in [0, 1], and save weights plus metadata.")
    p.add_argument("--latent", type=int, default=2, help="latent dimension (default 2: exact quadrature)")
    p.add_argument("--hidden", type=int, default=128, help="hidden units of encoder and decoder (default 128)")
    p.add_argument("--epochs", type=int, default=None, help="maximum epochs (default 400)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    p.add_argument("--beta", type=float, default=1.0, help="KL weight in the training loss (default 1)")
    p.add_argument("--kl-warmup", type=int, default=0, help="epochs of linear KL warm-up (default 0)")
    p.add_argument("--patience", type=int, default=60,
                   help="stop after this many epochs without a better validation ELBO (0: never; default 60)")
    p.add_argument("--device", default="auto", help="auto (CUDA, else MPS, else CPU), cpu, cuda or mps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: faster on a shared 2-core machine; 0 = torch's default)")
    p.add_argument("--data", default=None, metavar="FILE.npz", help="train on this .npz instead of the digits")
    p.add_argument("--out", required=True, metavar="FILE.pt", help="where to write the checkpoint")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--json", action="store_true", help="print the checkpoint metadata as JSON")
    p.set_defaults(func=run)


def run(args):
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise InputError(f"cannot write {args.out}: directory {out_dir} does not exist")
    from ..vae import load_dataset, save_checkpoint, train_vae
    from ..vae.train import DEFAULT_EPOCHS

    data = load_dataset(args.data)
    res = train_vae(data, n_latent=args.latent, n_hidden=args.hidden,
                    epochs=DEFAULT_EPOCHS if args.epochs is None else args.epochs,
                    batch_size=args.batch_size, lr=args.lr, beta=args.beta, kl_warmup=args.kl_warmup,
                    patience=args.patience, seed=args.seed, device=args.device,
                    progress=not args.no_progress, threads=args.threads)
    path = save_checkpoint(res.model, args.out)
    meta = res.metadata
    if args.json:
        print_json({"checkpoint": os.path.abspath(path), "size_bytes": os.path.getsize(path), **meta})
        return 0
    tr = meta["training"]
    print(f"wrote {path} ({os.path.getsize(path) / 1024:.0f} kB)")
    print(f"device {tr['device']}, {tr['epochs_run']} epochs in {tr['seconds']:.1f} s, best epoch {tr['best_epoch']}")
    for split in ("train", "val", "test"):
        print(f"{split:>5} ELBO {meta[f'final_{split}_elbo']:10.4f} nats per image")
    return 0
