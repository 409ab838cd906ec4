#!/usr/bin/env python3
"""Compares settings that live in different sweeps' evaluation files: one table and one figure.

    $ .venv/bin/python scripts/compare.py --out figures/study/initialisation \\
          --title "Study 4: the optimizee's initialisation" \\
          --setting "released N(0, 0.01²)" runs/study/stability-warmup-clip/eval-validation.h5@meta_learning_rate=0.01 \\
          --setting "fan-in" runs/study/init-fan-in/eval-validation.h5
    wrote figures/study/initialisation.md, .png and .pdf

A study whose settings cannot share one sweep (a grid over `optimizee.init` is refused, because a
sweep's members share one evaluation and its baselines) is compared here, setting by setting.
Each setting is a label and FILE, or FILE@POINT for one grid point of a sweep over a grid (POINT
is the point's group under /problems/<p>/lstm, e.g. meta_learning_rate=0.01). Each setting brings
its own tuned baselines, so a setting that moves the baselines (an initialisation does) shows it.

For every problem the files share and every setting: the learned optimizer's loss at step 100 and
at the horizon, mean ± the standard error across seeds, the seeds and the collapsed seeds (as
scripts/figures.py counts them, from each member's train.h5), its evaluation runs that diverged
(held at their last finite loss in the mean, as l2l-eval does), the best tuned baseline and Adam at
the horizon, and how far the learned optimizer is from the best baseline in units of its standard
error across seeds. The figure has one panel per problem: the loss at the horizon against the
setting, the learned optimizer with its across-seed error bar, each baseline as a marker.
"""
import argparse
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import figures  # noqa: E402  (scripts/figures.py: the styles and the collapse count)

PAPER_ORDER = ["quadratic", "base", "hidden-40", "two-layers", "relu"]  # Figures 2, 4 and 5; others follow


def parse_setting(label, text):
    """LABEL, FILE[@POINT] → (file, point or None)."""
    path, _, point = text.partition("@")
    if not label or not path:
        sys.exit(f"--setting {label!r} {text!r}: expected a label and FILE or FILE@POINT")
    return path, point or None


def aggregate_of(lstm, path, point):
    """The learned optimizer's across-seed group of a sweep (or of one grid point of it)."""
    points = sorted(k for k, v in lstm.items() if isinstance(v, h5py.Group) and "across_seeds" in v)
    if point is None and len(points) == 1:
        point = points[0]  # a sweep over seeds only: its one point (l2l-eval names it all-seeds)
    name = f"{point}/across_seeds" if point else "across_seeds"
    if name not in lstm:
        hint = f"; its grid points: {', '.join(points)} (name one with @POINT)" if points else \
            " (not a sweep's evaluation: compare sweeps, which carry seeds)"
        sys.exit(f"{path}: no {lstm.name}/{name}{hint}")
    return lstm[name]


def read_setting(path, point):
    """{problem: row} for one setting, the numbers the table and the figure show."""
    rows = {}
    with h5py.File(path, "r") as file:
        horizon = int(file.attrs["horizon"])
        early = min(100, horizon)
        for problem, group in file["problems"].items():
            aggregate = aggregate_of(group["lstm"], path, point)
            values = dict(zip(str(aggregate.attrs.get("grid_keys", "")).split("\n"),
                              str(aggregate.attrs.get("grid_values", "")).split("\n")))
            collapsed, trained, untrained = figures.collapsed_count(file, values, aggregate)
            best = figures.best_baseline(group, horizon)
            members = [group["lstm"]["members"][m] for m in str(aggregate.attrs["members"]).split("\n")]
            diverged = (sum(int(m.attrs.get("diverged_runs", 0)) for m in members), sum(m["loss"].shape[0] for m in members))
            rows[problem] = {
                "horizon": horizon, "early": early, "seeds": int(aggregate.attrs["seeds"]),
                "collapsed": collapsed, "trained": trained, "untrained": untrained,
                "lstm": (float(aggregate["mean"][early]), float(aggregate["stderr"][early]),
                         float(aggregate["mean"][horizon]), float(aggregate["stderr"][horizon])),
                "best": best, "diverged": diverged,
                "baselines": {b: float(group[b]["mean"][horizon]) for b in figures.STYLE if b != "lstm" and b in group},
                "split": str(file.attrs.get("split", "test")),
            }
    return rows


def table(settings, problems, title):
    header = ["problem", "setting", "seeds", "collapsed", "LSTM, step {early}", "LSTM, step {horizon}", "LSTM runs diverged",
              "best tuned baseline, step {horizon}", "Adam, step {horizon}", "LSTM − best, in the LSTM's s.e."]
    first = settings[0][1][problems[0]]
    both = first["early"] < first["horizon"]  # a horizon of at most 100 steps has one column
    header = [h.format(early=first["early"], horizon=first["horizon"]) for h in header if both or "{early}" not in h]
    lines = ["<!-- written by scripts/compare.py from " + ", ".join(path for _, _, path in settings) + "; do not edit -->",
             f"{title}, {first['split']} split: the learned optimizer's mean loss ± the standard error across seeds "
             "(none with one seed); each setting's baselines are tuned under it", "",
             "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for problem in problems:
        for label, rows, _ in settings:
            row = rows[problem]
            early_mean, early_error, mean, error = row["lstm"]
            spread = lambda e: f" ± {e:.3f}" if row["seeds"] > 1 else ""
            best_loss, best_name = row["best"] if row["best"] else (None, None)
            distance = "–"
            if best_loss is not None and row["seeds"] > 1 and error > 0:
                units = (mean - best_loss) / error  # beyond ±100, a count of tiny errors says nothing more
                distance = f"{units:+.1f}" if abs(units) < 100 else (">+100" if units > 0 else "<−100")
            seeds = str(row["seeds"]) + (f" ({row['untrained']} not trained)" if row["untrained"] else "")
            lines.append("| " + " | ".join([
                problem, label, seeds, f"{row['collapsed']} of {row['trained']}",
                *([f"{early_mean:.3f}{spread(early_error)}"] if both else []), f"**{mean:.3f}**{spread(error)}",
                f"{row['diverged'][0]} of {row['diverged'][1]}",
                f"{best_loss:.3f} ({figures.STYLE[best_name][0]})" if best_loss is not None else "–",
                f"{row['baselines']['adam']:.3f}" if "adam" in row["baselines"] else "–", distance]) + " |")
    return "\n".join(lines) + "\n"


def figure(settings, problems, title, out):
    fig, axes = plt.subplots(1, len(problems), figsize=(3.6 * len(problems), 3.8), squeeze=False)
    labels = [label for label, _, _ in settings]
    x = list(range(len(labels)))
    for axis, problem in zip(axes[0], problems):
        rows = [rows[problem] for _, rows, _ in settings]
        name, colour, _ = figures.STYLE["lstm"]
        axis.errorbar(x, [r["lstm"][2] for r in rows], yerr=[r["lstm"][3] for r in rows], marker="o", color=colour,
                      capsize=3, linestyle="none", label=f"{name} (± s.e. across seeds)")
        for baseline, (name, colour, _) in figures.STYLE.items():
            if baseline != "lstm" and all(baseline in r["baselines"] for r in rows):
                axis.plot(x, [r["baselines"][baseline] for r in rows], linestyle="none", marker="_", markersize=14,
                          markeredgewidth=2, color=colour, label=f"{name}, tuned")
        axis.set_xticks(x, labels, rotation=20, ha="right", fontsize=8)
        axis.set_xlim(-0.5, len(labels) - 0.5)
        axis.set_yscale("log")
        axis.set_title(problem)
        axis.set_ylabel(f"Loss at step {rows[0]['horizon']}")
        axis.grid(True, which="both", alpha=0.3)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(names), fontsize=8, frameon=False)
    fig.suptitle(f"{title} ({settings[0][1][problems[0]]['split']} split)", fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    for extension in ("png", "pdf"):
        fig.savefig(f"{out}.{extension}", dpi=150)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", nargs=2, action="append", required=True, metavar=("LABEL", "FILE[@POINT]"),
                        help="a setting to compare (repeat it; drawn in this order)")
    parser.add_argument("--out", required=True, help="the output's path without extension (writes .md, .png, .pdf)")
    parser.add_argument("--title", required=True, help="the study's title, for the table and the figure")
    parser.add_argument("--if-present", action="store_true",
                        help="when a setting's file does not exist yet, say so and write nothing (status 0): "
                             "for make study, whose studies may not all have run")
    arguments = parser.parse_args()
    settings = []
    for label, text in arguments.setting:
        path, point = parse_setting(label, text)
        if not os.path.exists(path):
            if arguments.if_present:
                print(f"skipping {arguments.out}: no {path} yet (setting {label!r})", file=sys.stderr)
                return
            sys.exit(f"setting {label!r}: no evaluation file {path}")
        settings.append((label, read_setting(path, point), path))
    shared = [p for p in settings[0][1] if all(p in rows for _, rows, _ in settings)]
    problems = [p for p in PAPER_ORDER if p in shared] + sorted(p for p in shared if p not in PAPER_ORDER)
    if not problems:
        sys.exit("the settings' evaluation files share no problem")
    horizons = {rows[p]["horizon"] for _, rows, _ in settings for p in problems}
    splits = {rows[p]["split"] for _, rows, _ in settings for p in problems}
    if len(horizons) > 1 or len(splits) > 1:
        sys.exit(f"the settings' evaluations differ in horizon {sorted(horizons)} or split {sorted(splits)}: not comparable")
    os.makedirs(os.path.dirname(arguments.out) or ".", exist_ok=True)
    with open(f"{arguments.out}.md", "w") as output:
        output.write(table(settings, problems, arguments.title))
    figure(settings, problems, arguments.title, arguments.out)
    print(f"wrote {arguments.out}.md, .png and .pdf", file=sys.stderr)


if __name__ == "__main__":
    main()
