#!/usr/bin/env python3
"""Draws the paper's figures from the evaluation files (runs/<experiment>/eval.h5) only.

    $ .venv/bin/python scripts/figures.py --runs runs --out figures
    wrote figures/quadratic.png and .pdf (Figure 2 of the paper) ...

Figures (Andrychowicz et al. 2016): the quadratic (Fig. 2), the MNIST base network over 200 steps
(Fig. 4) and the generalisation panels: 40 hidden units, 2 hidden layers, ReLU (Fig. 5).
Each plots the mean loss over the runs with a band of one standard error, log scale, the learned
optimizer solid and the baselines dashed. For a sweep, the learned optimizer's curve is the mean
over its seeds and its band the standard error across seeds (--seeds adds each seed's curve as a
thin line). A sweep over a grid gets <experiment>-grid.png: the loss at the horizon (and at step
100 when the horizon is longer) against each grid key, one line per problem, with across-seed
error bars, and each problem's best tuned baseline as a dotted line, and <experiment>-grid.md, the
same numbers as a table with each grid point's collapsed seeds. Runs evaluated with
`l2l-eval --history` get <experiment>-history.png: the validation loss of φ's snapshots against
the trajectories of meta-training. It also prints the final mean loss of every optimizer, the
numbers the README quotes.
"""
import argparse
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import stalls  # noqa: E402  (scripts/stalls.py: the collapse rule on logged losses)

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


def panel(axis, problem_group, title, seeds=False):
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
        diverged = int(group.attrs.get("diverged_runs", 0))
        if diverged and "loss" in group:
            text += f", {diverged}/{group['loss'].shape[0]} runs diverged"
        axis.plot(steps, mean, style, color=colour, label=text, linewidth=1.6)
        axis.fill_between(steps, np.maximum(mean - error, 1e-12), mean + error, color=colour, alpha=0.2, linewidth=0)
        if seeds and name == "lstm" and "members" in group:
            for index, member in enumerate(group["members"].values()):
                axis.plot(steps, member["mean"][()], "-", color=colour, linewidth=0.5, alpha=0.6,
                          label="LSTM, each seed" if index == 0 else None)
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


def grid_points(problem_group):
    """The sweep's grid points under /problems/<p>/lstm: {name: (dict of key → value text, group)}."""
    points = {}
    for name, item in problem_group["lstm"].items():
        if isinstance(item, h5py.Group) and "across_seeds" in item:
            aggregate = item["across_seeds"]
            keys = [k for k in str(aggregate.attrs.get("grid_keys", "")).split("\n") if k]
            values = str(aggregate.attrs.get("grid_values", "")).split("\n")
            if keys and len(keys) != len(values):
                sys.exit(f"{problem_group.file.filename}: {aggregate.name}: grid_keys and grid_values differ in length")
            points[name] = (dict(zip(keys, values)), aggregate)
    return points


def point_members(file, point, aggregate=None):
    """(trained, not trained): the member ids of a grid point. The aggregate names its members
    (attribute `members`); older files are matched by the point's values in the ids, as are the
    members an evaluation with --trained-only left out: the aggregate's `members_missing`, or in
    older files the matching ids of `sweep_members_missing` (which misses grid values written
    differently in ids and in `grid_values`, such as mappings)."""
    wanted = {f"{k.split('.')[-1]}={v}" for k, v in point.items()}
    matching = lambda attribute: [m for m in str(file.attrs.get(attribute, "")).split("\n") if m and wanted <= set(m.split(","))]
    trained = str(aggregate.attrs["members"]).split("\n") if aggregate is not None and "members" in aggregate.attrs else matching("sweep_members")
    if aggregate is not None and "members_missing" in aggregate.attrs:
        missing = str(aggregate.attrs.get("members_missing", "")).split("\n")
        return trained, [m for m in missing if m]
    return trained, matching("sweep_members_missing")


def collapsed_count(file, point, aggregate=None):
    """(collapsed, trained, not trained): the members of a grid point, by whether their train.h5
    exists and records a collapse."""
    folder = os.path.dirname(file.filename)
    members, missing = point_members(file, point, aggregate)
    count = trained = 0
    untrained = len(missing)
    for member in members:
        path = os.path.join(folder, member, "train.h5")
        if not os.path.exists(path):
            untrained += 1
            continue
        trained += 1
        with h5py.File(path, "r") as training:
            count += collapsed(training)
    return count, trained, untrained


def collapsed_text(file, point, aggregate=None):
    """", k collapsed" for the members of a grid point whose train.h5 records a collapse."""
    count, _, unknown = collapsed_count(file, point, aggregate)
    text = f", {count} collapsed" if count else ", none collapsed"
    return text + (f", {unknown} not trained" if unknown else "")


def collapsed(training):
    """/trajectory@collapsed, or for a run trained before it was recorded the same rule
    (CollapseDetector in Sources/Pipeline/Collapse.swift, as scripts/stalls.py applies it) on its
    logged losses: the median of f(θ_T)/f(θ_0) over the last 20 trajectories is at least 0.98."""
    trajectory = training["trajectory"]
    if "collapsed" in trajectory.attrs:
        return int(trajectory.attrs["collapsed"])
    initial, final = trajectory["loss"][:, 0], trajectory["final_loss"][()]
    return int(stalls.ends_stalled(stalls.stalls(initial, final), len(final)))


def best_baseline(problem_group, step):
    """(mean loss at `step`, name) of the best tuned baseline in an evaluation's problem group, or None."""
    baselines = [(float(problem_group[b]["mean"][step]), b) for b in STYLE if b != "lstm" and b in problem_group]
    return min(baselines) if baselines else None


def as_number(text):
    try:
        return float(text)
    except ValueError:
        return None


def grid_figure(path, out, experiment, split="test"):
    """<experiment>-grid.png/.pdf: the loss at the horizon (and step 100) against each grid key."""
    with h5py.File(path, "r") as file:
        problems = list(file["problems"].keys())
        points_of = {problem: grid_points(file["problems"][problem]) for problem in problems}
        points = points_of[problems[0]]
        keys = list(next(iter(points.values()))[0].keys()) if points else []
        if len(points) < 2 or not keys:
            return False
        horizon = int(file.attrs["horizon"])
        steps = [horizon] + ([100] if horizon > 100 else [])
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        fig, axes = plt.subplots(len(steps), len(keys), figsize=(4.6 * len(keys), 3.6 * len(steps)), squeeze=False)
        print(f"{experiment} grid, {split} split (mean ± s.e. across seeds):")
        for column, key in enumerate(keys):
            others = [k for k in keys if k != key]
            for row, step in enumerate(steps):
                axis = axes[row][column]
                for index, problem in enumerate(problems):
                    colour = colours[index % len(colours)]
                    lines = {}
                    for values, aggregate in points_of[problem].values():
                        lines.setdefault(tuple(values[k] for k in others), []).append(
                            (values[key], float(aggregate["mean"][step]), float(aggregate["stderr"][step]), aggregate))
                    for number, (fixed, entries) in enumerate(sorted(lines.items())):
                        numeric = all(as_number(v) is not None for v, *_ in entries)
                        entries.sort(key=lambda e: as_number(e[0]) if numeric else e[0])
                        x = [as_number(v) for v, *_ in entries] if numeric else list(range(len(entries)))
                        label = problem + "".join(f", {k.split('.')[-1]}={v}" for k, v in zip(others, fixed))
                        axis.errorbar(x, [m for _, m, _, _ in entries], yerr=[e for _, _, e, _ in entries], marker="o",
                                      linestyle=["-", "--", ":", "-."][number % 4], color=colour, capsize=3, label=label)
                        if not numeric:
                            axis.set_xticks(x, [v for v, *_ in entries])
                        elif min(x) > 0 and max(x) / min(x) >= 10:
                            axis.set_xscale("log")
                        if row == 0 and column == 0:
                            for v, m, e, aggregate in entries:
                                point = dict(zip(others, fixed), **{key: v})
                                seeds = int(aggregate.attrs["seeds"])
                                spread = f" ± {e:.2g}" if seeds > 1 else ""  # no standard error from one seed
                                print(f"  {label}, {key.split('.')[-1]}={v}: step {step}: {m:.4g}{spread} "
                                      f"({seeds} seed{'s' if seeds != 1 else ''}{collapsed_text(file, point, aggregate)})")
                    best = best_baseline(file["problems"][problem], step)
                    if best:
                        axis.axhline(best[0], color=colour, linestyle=":", linewidth=1, label=f"{problem}: best baseline ({STYLE[best[1]][0]})")
                axis.set_yscale("log")
                axis.set_xlabel(key)
                axis.set_ylabel(f"Loss at step {step}")
                axis.grid(True, which="both", alpha=0.3)
                axis.legend(fontsize=7)
        fig.suptitle(f"{experiment}: the learned optimizer across the grid, mean ± standard error across seeds ({split} split)", fontsize=9)
        fig.tight_layout()
        name = f"{experiment}-grid" + ("" if split == "test" else f"-{split}")
        for extension in ("png", "pdf"):
            fig.savefig(os.path.join(out, f"{name}.{extension}"), dpi=150)
        plt.close(fig)
    print(f"wrote {out}/{name}.png and .pdf", file=sys.stderr)
    return True


def history_figure(folder, out, experiment):
    """<experiment>-history.png/.pdf from the history.h5 files of a run or of a sweep's members:
    the validation loss at the horizon of φ's snapshots against the trajectories of meta-training,
    per grid point the mean across seeds (band: standard error across seeds), each seed thin."""
    runs = []  # (grid point: the member id without its seed, path)
    if os.path.exists(os.path.join(folder, "history.h5")):
        runs.append(("", os.path.join(folder, "history.h5")))
    for member in sorted(os.listdir(folder)):
        path = os.path.join(folder, member, "history.h5")
        if os.path.exists(path):
            point = ",".join(p for p in member.split(",") if not p.startswith("seed=")) or "all seeds"
            runs.append((point, path))
    if not runs:
        return False
    curves = {}  # problem → point → [(epochs, final_mean, final_stderr)]
    horizon = None
    for point, path in runs:
        with h5py.File(path, "r") as file:
            horizon = int(file.attrs["horizon"])
            epochs = file["epoch"][()]
            for problem, group in file["problems"].items():
                curves.setdefault(problem, {}).setdefault(point, []).append((epochs, group["final_mean"][()], group["final_stderr"][()]))
    problems = list(curves)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, axes = plt.subplots(1, len(problems), figsize=(max(4.6 * len(problems), 6.4), 4.0), squeeze=False)
    validation = os.path.join(folder, "eval-validation.h5")
    for axis, problem in zip(axes[0], problems):
        for index, (point, members) in enumerate(sorted(curves[problem].items())):
            colour = colours[index % len(colours)]
            length = min(len(e) for e, _, _ in members)
            epochs = members[0][0][:length]
            stack = np.array([f[:length] for _, f, _ in members])
            for e, f, _ in members:
                axis.plot(e, f, "-", color=colour, linewidth=0.5, alpha=0.5)
            mean = stack.mean(axis=0)
            label = f"{point or 'LSTM'} ({len(members)} seed{'s' if len(members) > 1 else ''})"
            axis.plot(epochs, mean, "-o", color=colour, markersize=2.5, linewidth=1.6, label=label)
            # The band: the standard error across seeds, or with one seed its standard error over runs.
            error = stack.std(axis=0, ddof=1) / np.sqrt(len(members)) if len(members) > 1 else members[0][2][:length]
            axis.fill_between(epochs, np.maximum(mean - error, 1e-12), mean + error, color=colour, alpha=0.2, linewidth=0)
        if os.path.exists(validation):
            with h5py.File(validation, "r") as file:
                best = best_baseline(file["problems"][problem], horizon) if problem in file["problems"] else None
                if best:
                    axis.axhline(best[0], color="black", linestyle=":", linewidth=1, label=f"best tuned baseline ({STYLE[best[1]][0]})")
        axis.set_yscale("log")
        axis.set_title(f"{problem} (validation split)")
        axis.set_xlabel("Trajectories of meta-training")
        axis.set_ylabel(f"Loss at step {horizon}")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    fig.suptitle(f"{experiment}: the learning curve of meta-training\n(snapshots of /phi/history; band: s.e. across seeds, or over runs for one seed; thin: each seed)", fontsize=8)
    fig.tight_layout()
    for extension in ("png", "pdf"):
        fig.savefig(os.path.join(out, f"{experiment}-history.{extension}"), dpi=150)
    plt.close(fig)
    print(f"wrote {out}/{experiment}-history.png and .pdf", file=sys.stderr)
    return True


def grid_table(path, out, experiment, split="test"):
    """<experiment>-grid[-split].md: per grid point, the learned optimizer's loss at step 100 and at
    the horizon on every problem (mean ± s.e. across seeds), its seeds and collapsed seeds, and a
    last row with each problem's best tuned baseline: the study's table."""
    with h5py.File(path, "r") as file:
        problems = list(file["problems"].keys())
        points_of = {problem: grid_points(file["problems"][problem]) for problem in problems}
        names = sorted(points_of[problems[0]], key=lambda n: [as_number(v) if as_number(v) is not None else v
                                                              for v in points_of[problems[0]][n][0].values()])
        if len(names) < 2:
            return False
        horizon = int(file.attrs["horizon"])
        steps = sorted({min(100, horizon), horizon})
        header = ["grid point", "seeds", "collapsed"] + [f"{p}, step {t}" for p in problems for t in steps]
        lines = [f"<!-- written by scripts/figures.py from {path}; do not edit -->",
                 f"{experiment}, {split} split: the learned optimizer's mean loss ± the standard error across seeds "
                 "(none with one seed)",
                 "", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        for name in names:
            values, aggregate = points_of[problems[0]][name]
            collapsed_seeds, trained, untrained = collapsed_count(file, values, aggregate)
            seeds = str(int(aggregate.attrs["seeds"])) + (f" ({untrained} not trained)" if untrained else "")
            cells = [", ".join(f"{k.split('.')[-1]}={v}" for k, v in values.items()), seeds, f"{collapsed_seeds} of {trained}"]
            for problem in problems:
                point = points_of[problem][name][1]
                for t in steps:
                    # One seed has no standard error across seeds: say so rather than print 0.
                    spread = f" ± {float(point['stderr'][t]):.3f}" if int(point.attrs["seeds"]) > 1 else ""
                    cells.append(f"{float(point['mean'][t]):.3f}{spread}")
            lines.append("| " + " | ".join(cells) + " |")
        baseline_cells = ["best tuned baseline", "", ""]
        for problem in problems:
            for t in steps:
                best = best_baseline(file["problems"][problem], t)
                baseline_cells.append(f"{best[0]:.3f} ({STYLE[best[1]][0]})" if best else "–")
        lines.append("| " + " | ".join(baseline_cells) + " |")
    name = f"{experiment}-grid" + ("" if split == "test" else f"-{split}")
    with open(os.path.join(out, f"{name}.md"), "w") as table:
        table.write("\n".join(lines) + "\n")
    print(f"wrote {out}/{name}.md", file=sys.stderr)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs", help="folder holding <experiment>/eval.h5")
    parser.add_argument("--out", default="figures", help="folder for the PNG and PDF files")
    parser.add_argument("--only", nargs="*", help="experiments to draw (default: every one with an eval.h5)")
    parser.add_argument("--mnist", default="mnist", help="the MNIST experiment's folder name (smoke: smoke)")
    parser.add_argument("--seeds", action="store_true", help="also draw each seed's learned-optimizer curve, thin")
    parser.add_argument("--split", choices=["test", "validation"], default="test",
                        help="the grid figure from eval.h5 (test) or eval-validation.h5 (validation, where recipes are chosen)")
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
                panel(axis, file["problems"][problem], title, seeds=arguments.seeds)
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
    experiments = arguments.only or sorted(e for e in os.listdir(arguments.runs) if os.path.isdir(os.path.join(arguments.runs, e)))
    for experiment in experiments:
        if os.path.isdir(os.path.join(arguments.runs, experiment)):
            drawn += history_figure(os.path.join(arguments.runs, experiment), arguments.out, experiment)
        path = os.path.join(arguments.runs, experiment, "eval.h5" if arguments.split == "test" else f"eval-{arguments.split}.h5")
        if not os.path.exists(path):
            continue
        with h5py.File(path, "r") as file:
            sweep = file.attrs.get("sweep_members") is not None
        if sweep:
            check_provenance(path, os.path.join(arguments.runs, experiment, "train.h5"))
            drawn += grid_figure(path, arguments.out, experiment, arguments.split)
            grid_table(path, arguments.out, experiment, arguments.split)
    if drawn == 0:
        sys.exit("no figure drawn: no eval.h5 found under " + arguments.runs)


if __name__ == "__main__":
    main()
