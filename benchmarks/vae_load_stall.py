"""How long the VAE explorer's kernel cannot answer the page while its session loads in the background.

After the VAE explorer's page has drawn, its kernel loads the session (torch, the checkpoint) in a
low-priority thread (explorer/app/vae/compute.py: ``SessionLoader.start_background``). Whatever holds
Python's interpreter lock in that thread stalls the kernel's main thread, which reads the page's
messages: a slider move made then shows its "computing…" mark only after the stall (issue 25: within
0.2 s). This measures the main thread's longest stall during the whole load, in a fresh interpreter
per load (torch is imported once per process), with torch's libraries loaded through
:mod:`explorer.vae.native` (the app's way) and without (a plain ``import torch``), interleaved in one
run so both see the same machine. The main thread sleeps 1 ms at a time; a stall is the time between
two of its wake-ups.

Usage (repository root): .venv/bin/python -m benchmarks.vae_load_stall [--repeats 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks._timing import load_average

ROOT = Path(__file__).resolve().parents[1]

#: One load in a fresh interpreter; prints {"stall": s, "load": s, "stalls": [five longest]}.
ONE_LOAD = """
import json, sys, threading, time
import explorer.vae.native as native
if sys.argv[1] == "plain":
    native.load_torch_libraries = lambda: ()      # the load as before: a plain import torch
from explorer.app.vae.compute import VAECompute
loader = VAECompute.load_lazily().loader
t0 = time.perf_counter()
thread = loader.start_background()
stalls, last = [], time.perf_counter()
while thread.is_alive():
    time.sleep(0.001)
    now = time.perf_counter()
    stalls.append(now - last)
    last = now
load = time.perf_counter() - t0
assert loader.loaded, "the session did not load"
stalls.sort(reverse=True)
print(json.dumps({"stall": stalls[0], "load": load, "stalls": stalls[:5]}))
"""


def one_load(mode):
    done = subprocess.run([sys.executable, "-c", ONE_LOAD, mode], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    if done.returncode != 0:
        raise SystemExit(f"the {mode} load failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="loads of each kind, interleaved (default 5)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    out = {"cpu_count": os.cpu_count(), "load_average_before": load_average()}
    runs = {"native": [], "plain": []}
    for _ in range(args.repeats):
        for mode in ("plain", "native"):
            runs[mode].append(one_load(mode))
    out["load_average_after"] = load_average()
    print(f"machine: {out['cpu_count']} CPUs, load average {out['load_average_before']} before, "
          f"{out['load_average_after']} after; {args.repeats} loads each, interleaved")
    for mode, label in (("plain", "plain import torch"), ("native", "libraries first, lock released")):
        stall = summary([r["stall"] for r in runs[mode]])
        load = summary([r["load"] for r in runs[mode]])
        out[mode] = {"longest_stall_s": stall, "load_s": load, "runs": runs[mode]}
        print(f"{label:32s} longest main-thread stall: median {stall['median'] * 1e3:.0f} ms "
              f"(min {stall['min'] * 1e3:.0f}, max {stall['max'] * 1e3:.0f}); "
              f"session load {load['median']:.2f} s (min {load['min']:.2f}, max {load['max']:.2f})")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
