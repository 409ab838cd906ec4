#!/usr/bin/env python3
"""Draws the generalisation figures (issue 13) from evaluation files only.

    $ .venv/bin/python scripts/generalisation.py architecture runs/mnist/eval-architecture.h5 --out figures/architecture
    $ .venv/bin/python scripts/generalisation.py curves runs/mnist/eval-long.h5 --out figures/mnist-long --log-steps

architecture: Figure 6 of Andrychowicz et al. (2016): the loss at the horizon of the learned
optimizer and of each tuned baseline against the optimizee's hidden units, one panel per number
of hidden layers, read from each problem's `hidden` attribute (l2l-eval records it), with a
vertical line at the architecture meta-trained on (the file's `optimizee_hidden`). The learned
optimizer's error bars are the standard error across seeds for a sweep (its `band`), the
baselines' the standard error over runs. It also writes <out>.md, the same numbers as a table.

curves: one panel per problem, the loss against the step as in figures.py (mean over runs, one
standard error band), optionally with a log step axis for long horizons; prints the loss at step
100, 1,000 and the horizon, where the horizon reaches them.
"""
import argparse
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from figures import STYLE, panel  # noqa: E402


def final(group, step):
    """(mean, standard error) of an optimizer's curve at `step`."""
    return float(group["mean"][step]), float(group["stderr"][step])


def diverged_runs(group):
    return int(group.attrs.get("diverged_runs", 0))


def architecture(path, out):
    with h5py.File(path, "r") as file:
        horizon = int(file.attrs["horizon"])
        trained = [int(h) for h in file.attrs.get("optimizee_hidden", [])]
        cells = {}  # (layers, units) → {optimizer: (mean, stderr, diverged, runs)}
        for name, problem in file["problems"].items():
            if "hidden" not in problem.attrs:
                sys.exit(f"{path}: /problems/{name} records no hidden sizes (evaluate it again with this l2l-eval)")
            dataset = problem.attrs.get("dataset", "mnist")
            if dataset != "mnist" or problem.attrs.get("activation", "sigmoid") != "sigmoid":
                print(f"note: {name} ({dataset}, {problem.attrs.get('activation')}) is not a sigmoid MLP on MNIST; left out", file=sys.stderr)
                continue
            hidden = [int(h) for h in problem.attrs["hidden"]]
            if (len(hidden), hidden[0]) in cells:
                sys.exit(f"{path}: /problems/{name} repeats the architecture {hidden} of another problem")
            if len(set(hidden)) != 1:
                print(f"note: {name}: hidden sizes {hidden} differ between layers; plotted at the first", file=sys.stderr)
            entry = {}
            for optimizer in STYLE:
                if optimizer in problem and "mean" in problem[optimizer]:
                    group = problem[optimizer]
                    runs = group["loss"].shape[0] if "loss" in group else 0
                    entry[optimizer] = (*final(group, horizon), diverged_runs(group), runs)
            cells[(len(hidden), hidden[0])] = entry
        band = next(iter(file["problems"].values()))["lstm"].attrs.get("band", "standard error over runs")
        source = file.attrs.get("phi_source", "")
    depths = sorted({layers for layers, _ in cells})
    fig, axes = plt.subplots(1, len(depths), figsize=(4.4 * len(depths), 3.8), squeeze=False, sharey=True)
    for axis, layers in zip(axes[0], depths):
        units = sorted(u for l, u in cells if l == layers)
        for optimizer, (label, colour, style) in STYLE.items():
            points = [(u, cells[(layers, u)][optimizer]) for u in units if optimizer in cells[(layers, u)]]
            if not points:
                continue
            x = [u for u, _ in points]
            y = [p[0] for _, p in points]
            e = [p[1] for _, p in points]
            axis.errorbar(x, y, yerr=e, linestyle=style, marker="o", markersize=3, color=colour, capsize=2,
                          label=label, linewidth=1.6 if optimizer == "lstm" else 1.0)
            for u, p in points:
                if p[2]:
                    axis.annotate(f"{p[2]}/{p[3]} div.", (u, p[0]), fontsize=6, color=colour)
        if len(trained) == layers:
            axis.axvline(trained[0], color="grey", linestyle=":", linewidth=1, label="meta-trained on")
        axis.set_xscale("log", base=2)
        axis.set_xticks(units, [str(u) for u in units])
        axis.set_yscale("log")
        axis.set_title(f"{layers} hidden layer{'s' if layers > 1 else ''} (sigmoid)")
        axis.set_xlabel("Hidden units per layer")
        axis.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel(f"Loss at step {horizon}")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"Figure 6 of Andrychowicz et al. (2016), reproduced: {source}\nLSTM error bars: {band}; baselines: standard error over runs", fontsize=8)
    fig.tight_layout()
    save(fig, out)
    lines = [f"# Loss at step {horizon} against the architecture ({os.path.basename(path)})", "",
             f"LSTM: mean ± {band}; baselines: mean ± standard error over runs. Meta-trained on {trained}.", "",
             "| layers | units | " + " | ".join(STYLE[o][0] for o in STYLE) + " |",
             "| --- | --- | " + " | ".join("---" for _ in STYLE) + " |"]
    for layers, units in sorted(cells):
        entry = cells[(layers, units)]
        values = [f"{entry[o][0]:.4g} ± {entry[o][1]:.2g}" + (f" ({entry[o][2]}/{entry[o][3]} diverged)" if entry[o][2] else "")
                  if o in entry else "–" for o in STYLE]
        lines.append(f"| {layers} | {units} | " + " | ".join(values) + " |")
    with open(out + ".md", "w") as table:
        table.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {out}.png, .pdf and .md", file=sys.stderr)


def curves(path, out, log_steps, title):
    with h5py.File(path, "r") as file:
        horizon = int(file.attrs["horizon"])
        problems = list(file["problems"].keys())
        fig, axes = plt.subplots(1, len(problems), figsize=(max(4.4 * len(problems), 5.6), 3.8), squeeze=False)
        for axis, name in zip(axes[0], problems):
            problem = file["problems"][name]
            panel(axis, problem, name)
            if log_steps:
                axis.set_xscale("log")
                axis.set_xlim(1, horizon)
            steps = [s for s in (100, 1000, horizon) if s <= horizon]
            for step in sorted(set(steps)):
                values = ", ".join(f"{STYLE[o][0]} {final(problem[o], step)[0]:.4g} ± {final(problem[o], step)[1]:.2g}"
                                   + (f" ({diverged_runs(problem[o])} runs diverged)" if diverged_runs(problem[o]) else "")
                                   for o in STYLE if o in problem and "mean" in problem[o])
                print(f"{name}, step {step}: {values}")
        band = file["problems"][problems[0]]["lstm"].attrs.get("band", "standard error over runs")
        fig.suptitle(f"{title}\nlearned optimizer: {file.attrs.get('phi_source', '')}; LSTM band: {band}", fontsize=8)
    fig.tight_layout()
    save(fig, out)
    print(f"wrote {out}.png and .pdf", file=sys.stderr)


def save(fig, out):
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    for extension in ("png", "pdf"):
        fig.savefig(f"{out}.{extension}", dpi=150)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    figure6 = commands.add_parser("architecture", help="Figure 6: the loss at the horizon against the architecture")
    figure6.add_argument("eval", help="an eval-*.h5 whose problems are MLPs of several sizes")
    figure6.add_argument("--out", required=True, help="output path without extension (writes .png, .pdf and .md)")
    panels = commands.add_parser("curves", help="the loss against the step, one panel per problem")
    panels.add_argument("eval", help="an eval*.h5")
    panels.add_argument("--out", required=True, help="output path without extension (writes .png and .pdf)")
    panels.add_argument("--log-steps", action="store_true", help="a log step axis (long horizons)")
    panels.add_argument("--title", default="", help="the figure's title")
    arguments = parser.parse_args()
    if not os.path.exists(arguments.eval):
        sys.exit(f"{arguments.eval}: no such file (l2l-eval writes it)")
    if arguments.command == "architecture":
        architecture(arguments.eval, arguments.out)
    else:
        curves(arguments.eval, arguments.out, arguments.log_steps, arguments.title)


if __name__ == "__main__":
    main()
