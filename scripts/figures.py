#!/usr/bin/env python3
"""Draws the paper's figures from the evaluation files (runs/<experiment>/eval.h5) only.

    $ .venv/bin/python scripts/figures.py --runs runs --out figures
    wrote figures/quadratic.png and .pdf (Figure 2 of the paper) ...

Figures (Andrychowicz et al. 2016): the quadratic (Fig. 2), the MNIST base network over 200 steps
(Fig. 4) and the generalisation panels: 40 hidden units, 2 hidden layers, ReLU (Fig. 5).
Each plots the mean loss over the runs with a band of one standard error, log scale, the learned
optimizer solid and the baselines dashed. It also prints the final mean loss of every optimizer,
the numbers the README quotes.
"""
import argparse
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

STYLE = {  # optimizer: (label, colour, line style)
    "lstm": ("LSTM", "tab:orange", "-"),
    "sgd": ("SGD", "tab:blue", "--"),
    "nag": ("NAG", "tab:red", "--"),
    "rmsprop": ("RMSprop", "tab:green", "--"),
    "adam": ("ADAM", "tab:purple", "--"),
}

# figure name: (experiment, [(problem, panel title)], paper figure)
FIGURES = {
    "quadratic": ("quadratic", [("quadratic", "Quadratics")], "Figure 2"),
    "mnist": ("mnist", [("base", "MNIST, 200 steps")], "Figure 4"),
    "mnist-generalisation": ("mnist", [("hidden-40", "MNIST, 40 units"), ("two-layers", "MNIST, 2 layers"), ("relu", "MNIST, ReLU")], "Figure 5"),
}


def panel(axis, problem_group, title):
    for name, (label, colour, style) in STYLE.items():
        if name not in problem_group:
            continue
        group = problem_group[name]
        if "mean" not in group:
            print(f"note: {title}: {name} has no single curve (a sweep over a grid); drawn without it", file=sys.stderr)
            continue
        mean, error = group["mean"][()], group["stderr"][()]
        steps = np.arange(len(mean))
        rate = group.attrs.get("learning_rate")
        text = label if rate is None else f"{label} (lr {float(rate):.3g})"
        axis.plot(steps, mean, style, color=colour, label=text, linewidth=1.6)
        axis.fill_between(steps, np.maximum(mean - error, 1e-12), mean + error, color=colour, alpha=0.2, linewidth=0)
    axis.set_yscale("log")
    axis.set_title(title)
    axis.set_xlabel("Step")
    axis.set_ylabel("Loss")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)


def final_losses(problem_group):
    """The final mean loss of every optimizer, as text; the LSTM's with its band's standard error."""
    finals = {}
    for name in STYLE:
        if name in problem_group and "mean" in problem_group[name]:
            group = problem_group[name]
            text = f"{float(group['mean'][-1]):.4g}"
            if "band" in group.attrs:
                text += f" ± {float(group['stderr'][-1]):.2g} ({group.attrs['band']})"
            finals[name] = text
    return finals


def check_provenance(eval_path, train_path):
    """Refuses an eval.h5 that evaluated another training run than the train.h5 beside it."""
    with h5py.File(eval_path, "r") as evaluation:
        members = evaluation.attrs.get("sweep_members")
    if members is not None:
        check_sweep_provenance(eval_path, members.split("\n"))
        return
    if not os.path.exists(train_path):
        print(f"warning: {eval_path}: no {train_path} beside it; cannot check which run it evaluated", file=sys.stderr)
        return
    with h5py.File(eval_path, "r") as evaluation, h5py.File(train_path, "r") as training:
        evaluated = evaluation.attrs.get("train_run_id")
        current = training.attrs.get("run_id")
        if evaluated is None or current is None:
            print(f"warning: {eval_path} or {train_path} records no run id (an older layout); cannot check that they belong together", file=sys.stderr)
        elif evaluated != current:
            sys.exit(f"{eval_path} evaluated run {evaluated}, but {train_path} is run {current}: "
                     f"evaluate again (make eval, or l2l-eval --out {os.path.dirname(eval_path)})")


def check_sweep_provenance(eval_path, members):
    """Refuses a sweep's eval.h5 when a member's train.h5 is another run than the one evaluated."""
    folder = os.path.dirname(eval_path)
    with h5py.File(eval_path, "r") as evaluation:
        for problem in evaluation["problems"].values():
            for member in members:
                evaluated = problem["lstm"]["members"][member].attrs.get("train_run_id")
                train_path = os.path.join(folder, member, "train.h5")
                if not os.path.exists(train_path):
                    print(f"warning: {eval_path}: member {member} has no {train_path}", file=sys.stderr)
                    continue
                with h5py.File(train_path, "r") as training:
                    if training.attrs.get("run_id") != evaluated:
                        sys.exit(f"{eval_path} evaluated run {evaluated} of member {member}, but {train_path} is run "
                                 f"{training.attrs.get('run_id')}: evaluate again (make eval)")
            break


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs", help="folder holding <experiment>/eval.h5")
    parser.add_argument("--out", default="figures", help="folder for the PNG and PDF files")
    parser.add_argument("--only", nargs="*", help="experiments to draw (default: every one with an eval.h5)")
    parser.add_argument("--mnist", default="mnist", help="the MNIST experiment's folder name (smoke: smoke)")
    arguments = parser.parse_args()
    os.makedirs(arguments.out, exist_ok=True)
    drawn = 0
    for figure, (experiment, panels, paper) in FIGURES.items():
        if experiment == "mnist":
            experiment = arguments.mnist
        if arguments.only and experiment not in arguments.only:
            continue
        path = os.path.join(arguments.runs, experiment, "eval.h5")
        if not os.path.exists(path):
            print(f"skipping {figure}: no {path}", file=sys.stderr)
            continue
        check_provenance(path, os.path.join(arguments.runs, experiment, "train.h5"))
        with h5py.File(path, "r") as file:
            missing = [p for p, _ in panels if p not in file["problems"]]
            if missing:
                sys.exit(f"{path}: no evaluation of {', '.join(missing)} (expected /problems/<name>)")
            fig, axes = plt.subplots(1, len(panels), figsize=(max(4.2 * len(panels), 5.6), 3.8), squeeze=False)
            for axis, (problem, title) in zip(axes[0], panels):
                panel(axis, file["problems"][problem], title)
                finals = final_losses(file["problems"][problem])
                print(f"{figure} / {problem} (final mean loss, step {file.attrs['horizon']}): "
                      + ", ".join(f"{STYLE[k][0]} {v}" for k, v in finals.items()))
            band = file["problems"][panels[0][0]]["lstm"].attrs.get("band", "standard error over runs")
            fig.suptitle(f"{paper} of Andrychowicz et al. (2016), reproduced\nlearned optimizer: {file.attrs['phi_source']}\nLSTM band: {band}", fontsize=8)
            fig.tight_layout()
            for extension in ("png", "pdf"):
                fig.savefig(os.path.join(arguments.out, f"{figure}.{extension}"), dpi=150)
            plt.close(fig)
            drawn += 1
            print(f"wrote {arguments.out}/{figure}.png and .pdf ({paper})", file=sys.stderr)
    if drawn == 0:
        sys.exit("no figure drawn: no eval.h5 found under " + arguments.runs)


if __name__ == "__main__":
    main()
