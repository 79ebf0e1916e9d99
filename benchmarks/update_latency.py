"""The kernel's share of a slider move, this checkout against another one, side by side.

What a control costs in the kernel, from the widget's new value to every open panel rendered
(observer → State → update → renders → Bokeh patches queued): the part of "slider → plots" the
app's code decides (the browser's drawing and the websocket are the same for both). Each side runs
in a subprocess of its own, with its own checkout first on ``sys.path``; rounds alternate between
the sides, so a drift of the machine's load hits both alike.

A round builds the RBM explorer (no prefetch: every move computes), opens every tab, and moves
the temperature slider to ``--moves`` grid temperatures not visited before, then the λ slider and
the curves' checkboxes. Reported per side and kind of move: median, min and max milliseconds over
all rounds, with the machine's load average.

Usage (repository root)::

    git worktree add /tmp/before <commit>        # the code to compare with
    .venv/bin/python -m benchmarks.update_latency --baseline /tmp/before --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Runs in the subprocess: ``sys.argv[1]`` the number of temperature moves, ``sys.argv[2]`` the round.
ROUND = r"""
import json, sys, time
import numpy as np
from explorer.app import RBMExplorer

moves, seed = int(sys.argv[1]), int(sys.argv[2])
app = RBMExplorer(run_ais=False, prefetch=False)
for key in list(app.panels):
    if key not in ("learning",):
        app.open_panel(key)
app.w_tabs.selected_index = 0
rng = np.random.default_rng(seed)
grid = np.round(10 ** np.arange(-1.0, 1.0001, 0.01), 12)
out = {"T": [], "lam": [], "show": []}

def timed(kind, fn):
    t0 = time.perf_counter()
    fn()
    app.flush()
    out[kind].append((time.perf_counter() - t0) * 1e3)

for t in rng.choice(grid, size=moves, replace=False):
    timed("T", lambda t=t: setattr(app.w_temperature, "value", float(t)))
for lam in (0.5, 1.5, 1.0):
    timed("lam", lambda lam=lam: setattr(app.w_lam, "value", lam))
for visible in (False, True):
    timed("show", lambda v=visible: setattr(app.w_show["tap3"], "value", v))
print(json.dumps(out))
"""


def one_round(checkout, moves, seed):
    env = {**os.environ, "PYTHONPATH": str(checkout), "OPENBLAS_NUM_THREADS": "1",
           # each side computes, neither reads the other's disk caches
           "FREE_ENERGY_EXPLORER_CACHE": str(Path("/tmp") / f"update-latency-{os.getpid()}-{Path(checkout).name}")}
    res = subprocess.run([sys.executable, "-c", ROUND, str(moves), str(seed)], cwd=checkout, env=env,
                         capture_output=True, text=True, timeout=1800)
    if res.returncode != 0:
        raise SystemExit(f"round failed in {checkout}: {res.stderr.strip().splitlines()[-1:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", type=Path, help="another checkout to compare with, side by side")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--moves", type=int, default=30)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    sides = {"this": ROOT}
    if args.baseline is not None:
        sides = {"before": args.baseline.resolve(), "this": ROOT}
    load_before = os.getloadavg()
    times = {label: {"T": [], "lam": [], "show": []} for label in sides}
    for r in range(args.rounds):
        for label, checkout in sides.items():          # interleaved
            for kind, xs in one_round(checkout, args.moves, r).items():
                times[label][kind].extend(xs)
    load_after = os.getloadavg()
    summary = {label: {kind: {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}
                       for kind, xs in by_kind.items()} for label, by_kind in times.items()}
    print(f"load average {load_before[0]:.2f} -> {load_after[0]:.2f} ({os.cpu_count()} CPUs); "
          f"{args.rounds} rounds, {args.moves} temperature moves each")
    for kind in ("T", "lam", "show"):
        row = "; ".join(f"{label} {s[kind]['median']:.1f} ms ({s[kind]['min']:.1f}-{s[kind]['max']:.1f})"
                        for label, s in summary.items())
        print(f"{kind:5s} {row}")
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "load": [load_before, load_after], "summary": summary}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
