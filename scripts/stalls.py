#!/usr/bin/env python3
"""The stalls of meta-training runs (issue 12, study 7), from their train.h5 logs: for every member
of the given sweep folders, the intervals of trajectories during which the run was stalled by the
collapse rule of `l2l-train` (CollapseDetector in Sources/Pipeline/Collapse.swift: the median of
f(θ_T)/f(θ_0) over the last 20 trajectories is at least 0.98), whether it ended stalled (collapsed),
how its first trajectory went (the largest f(θ_t)/f(θ_0) in it: above 1, the initial φ's updates
made the optimizee worse), and the best training-time validation loss and where it was reached.

    $ .venv/bin/python scripts/stalls.py runs/study/meta-learning-rate runs/study/stability-warmup --out runs/study/stalls.md
"""
import argparse
import glob
import os
import sys

import h5py
import numpy as np

WINDOW, THRESHOLD = 20, 0.98


def stalls(initial, final):
    """[(first, last)] 1-based trajectories at which the rule held, as contiguous intervals; a
    trajectory counts from the one completing the first stalled window."""
    with np.errstate(divide="ignore", invalid="ignore"):
        progress = np.asarray(final, dtype=np.float64) / np.asarray(initial, dtype=np.float64)
    progress[~np.isfinite(progress)] = 1
    intervals, start = [], None
    for t in range(WINDOW, len(progress) + 1):
        stalled = np.median(progress[t - WINDOW:t]) >= THRESHOLD
        if stalled and start is None:
            start = t
        elif not stalled and start is not None:
            intervals.append((start, t - 1))
            start = None
    if start is not None:
        intervals.append((start, len(progress)))
    return intervals


def ends_stalled(intervals, trajectories):
    """Whether the last of `stalls`' intervals reaches the last trajectory: a collapsed run."""
    return bool(intervals) and intervals[-1][1] == trajectories


def row(path):
    with h5py.File(path, "r") as training:
        trajectory = training["trajectory"]
        losses = trajectory["loss"]
        initial, final = losses[:, 0], trajectory["final_loss"][()]
        first = float(np.max(losses[0] / losses[0, 0]))
        intervals = stalls(initial, final)
        recorded = trajectory.attrs.get("collapsed")
        ended = ends_stalled(intervals, len(final))
        if recorded is not None and bool(recorded) != ended:
            sys.exit(f"{path}: /trajectory@collapsed is {int(recorded)}, but its losses say {int(ended)}: the rule here differs from l2l-train's")
        validation = training["validation"]
        epochs, scores = validation["epoch"][()], validation["loss"][()]
        best = int(np.argmin(scores)) if len(scores) else None
    text = ", ".join(f"{a}–{b}" for a, b in intervals) or "none"
    best_text = f"{scores[best]:.3f} (trajectory {int(epochs[best])})" if best is not None else "–"
    return [str(len(final)), f"{first:.2f}", text, "yes" if ended else "no", best_text]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="sweep folders (runs/study/<study>), each holding <member>/train.h5")
    parser.add_argument("--out", help="write the table here as Markdown (default: print it)")
    args = parser.parse_args()
    header = ["sweep", "member", "trajectories", "largest f/f₀ in trajectory 1", "stalled (trajectories)", "collapsed at the end",
              "best validation (selection score)"]
    lines = [f"<!-- written by scripts/stalls.py {' '.join(args.folders)}; do not edit -->",
             f"Stalls: trajectories at which the median f(θ_T)/f(θ_0) of the last {WINDOW} was ≥ {THRESHOLD}", "",
             "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for folder in args.folders:
        paths = sorted(glob.glob(os.path.join(folder, "*", "train.h5")))
        if not paths:
            sys.exit(f"{folder}: no <member>/train.h5 in it")
        for path in paths:
            lines.append("| " + " | ".join([os.path.basename(folder.rstrip("/")), os.path.basename(os.path.dirname(path))] + row(path)) + " |")
    text = "\n".join(lines) + "\n"
    if args.out:
        with open(args.out, "w") as table:
            table.write(text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
