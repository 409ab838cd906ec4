#!/usr/bin/env python3
"""The early-dormancy probe of the fidelity study (issue 12, study 7): for every member of the given
sweeps, `l2l-probe meta-gradient` meta-trains the first UNROLLS unrolls (writing nothing) and this
script reports the median norm of ∂L/∂φ over the first and the last 20 of them. A member whose
last-20 median is below THRESHOLD is "dormant": its meta-gradient has all but vanished, as in the
runs that collapsed (healthy MNIST runs have norms of 5 to 500; dormant ones about 0.01 to 0.3).
It is a cheap early proxy for a collapse, not the collapse itself (a dormant run can wake up
hundreds of trajectories later; /trajectory@collapsed of a full run is the measure).

    $ .venv/bin/python scripts/dormancy.py pipelines/study/meta-learning-rate.yaml --out figures/study/dormancy.md
"""
import argparse
import os
import statistics
import subprocess
import sys


def members(pipeline, sweep_tool):
    listing = subprocess.run([sweep_tool, pipeline], check=True, capture_output=True, text=True).stdout
    return [line.split("\t")[1] for line in listing.splitlines() if line]


def norms(pipeline, member, unrolls, probe, data):
    result = subprocess.run([probe, "meta-gradient", pipeline, "--member", member, "--unrolls", str(unrolls), "--data", data],
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{probe} failed on {pipeline} member {member}: {result.stderr.strip()}")
    values = [float(line.rsplit("=", 1)[1]) for line in result.stdout.splitlines() if line.startswith("unroll ")]
    if len(values) != unrolls:
        sys.exit(f"{probe} printed {len(values)} norms for {unrolls} unrolls ({pipeline}, {member})")
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pipelines", nargs="+", help="sweep files (pipelines/study/*.yaml)")
    parser.add_argument("--unrolls", type=int, default=60, help="unrolls per member (an MNIST trajectory has 5)")
    parser.add_argument("--threshold", type=float, default=1.0, help="the last-20 median below which a member is dormant")
    parser.add_argument("--bin", default=".build/release", help="the folder of l2l-probe and l2l-sweep")
    parser.add_argument("--data", default="data/mnist.h5")
    parser.add_argument("--out", help="also write the table (Markdown) here")
    arguments = parser.parse_args()
    if arguments.unrolls < 40:
        sys.exit("--unrolls must be at least 40 (the first and the last 20)")
    probe, sweep = os.path.join(arguments.bin, "l2l-probe"), os.path.join(arguments.bin, "l2l-sweep")
    lines = [f"<!-- written by scripts/dormancy.py {' '.join(arguments.pipelines)} --unrolls {arguments.unrolls}; do not edit -->",
             f"Early dormancy: the median ‖∂L/∂φ‖ over unrolls 1–20 and {arguments.unrolls - 19}–{arguments.unrolls} of meta-training "
             f"(dormant: the second below {arguments.threshold:g})", "",
             "| sweep | member | median, first 20 | median, last 20 | dormant |", "| --- | --- | --- | --- | --- |"]
    for pipeline in arguments.pipelines:
        for member in members(pipeline, sweep):
            values = norms(pipeline, member, arguments.unrolls, probe, arguments.data)
            first, last = statistics.median(values[:20]), statistics.median(values[-20:])
            row = f"| {os.path.basename(pipeline)[:-5]} | {member} | {first:.3g} | {last:.3g} | {'yes' if last < arguments.threshold else 'no'} |"
            print(row, flush=True)
            lines.append(row)
    if arguments.out:
        with open(arguments.out, "w") as table:
            table.write("\n".join(lines) + "\n")
        print(f"wrote {arguments.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
