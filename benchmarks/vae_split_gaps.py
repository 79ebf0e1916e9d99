"""Rebuild the VAE gaps shipped with the package (the Hold q tab's histograms) and summarise them.

Computes :func:`explorer.vae.variational.split_gaps` for the shipped checkpoint's whole test split at c = 1
into ``explorer/data`` (the file's name is :func:`~explorer.vae.variational.split_cache_path`'s key: bump
``CODE_VERSION`` when the numbers change, delete the old file), times it, and prints the numbers the docs quote:
medians, 90th percentiles and the largest gaps with their digits. With ``--summary`` it only reads the file.

Usage (repository root): nice .venv/bin/python -m benchmarks.vae_split_gaps [--summary] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from benchmarks._timing import load_average


def summary(g):
    out = {"n": int(g.index.size)}
    chain = (np.all(g.free_energy <= g.neg_elbo_full + 1e-7)
             and np.all(g.neg_elbo_full <= g.neg_elbo_diagonal + 1e-7)
             and np.all(g.neg_elbo_diagonal <= g.neg_elbo_encoder + 1e-7))
    out["chain_holds_everywhere"] = bool(chain)
    for k in ("amortisation", "approximation", "full_covariance"):
        v = np.asarray(getattr(g, k))
        top = np.argsort(-v)[:5]
        out[k] = {"median": float(np.median(v)), "p90": float(np.percentile(v, 90)), "max": float(v.max()),
                  "largest": [[int(g.index[i]), float(v[i])] for i in top]}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--summary", action="store_true", help="only read the shipped file and summarise it")
    ap.add_argument("--json", default=None, help="also write the summary (and timing) here")
    args = ap.parse_args(argv)

    from explorer.vae import VAESession
    from explorer.vae.variational import SHIPPED_CACHE, load_split_gaps, split_cache_path, split_gaps

    session = VAESession(None, device="cpu")
    path = os.path.join(SHIPPED_CACHE, os.path.basename(split_cache_path(session)))
    info = {"file": os.path.relpath(path), "load_average_before": load_average()}
    if args.summary:
        g = load_split_gaps(session, directory=SHIPPED_CACHE)
        if g is None:
            raise SystemExit(f"no shipped gaps at {path}")
    else:
        t0 = time.perf_counter()
        g = split_gaps(session, directory=SHIPPED_CACHE, use_cache=True)
        info["seconds"] = round(time.perf_counter() - t0, 1)
        info["seconds_per_digit"] = round(info["seconds"] / g.index.size, 2)
        info["load_average_after"] = load_average()
    info["summary"] = summary(g)
    text = json.dumps(info, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
