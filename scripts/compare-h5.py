"""Compares two HDF5 files written by l2l bit for bit: the same groups, datasets and attributes,
each dataset with the same type, shape and bytes, except the attributes that name one particular
process (when it ran, its run id, the build's version). Exits 1 naming every difference.

    python scripts/compare-h5.py A.h5 B.h5
"""
import sys

import h5py
import numpy as np

# Differ between two runs that computed the same numbers: when and by which process and build.
PER_PROCESS = {"created", "run_id", "resumed_by", "train_run_id", "code_version"}


def contents(path):
    """Every object and attribute of the file by path (`/a/b`, `/a/b@name`) → (type, shape, bytes)."""
    found = {}

    def record(name, value):
        array = np.asarray(value)
        data = array.tobytes() if array.dtype.kind != "O" else repr(array.tolist()).encode()
        found[name] = (str(array.dtype), array.shape, data)

    def attributes(name, location):
        for key, value in location.attrs.items():
            if key not in PER_PROCESS:
                record(f"{name}@{key}", value)

    with h5py.File(path, "r") as file:
        attributes("/", file)

        def visit(name, item):
            path = "/" + name
            if isinstance(item, h5py.Dataset):
                record(path, item[()])
            else:
                found[path] = ("group", (), b"")
            attributes(path, item)

        file.visititems(visit)
    return found


def main(first, second):
    a, b = contents(first), contents(second)
    problems = [f"only in {first}: {k}" for k in sorted(a.keys() - b.keys())]
    problems += [f"only in {second}: {k}" for k in sorted(b.keys() - a.keys())]
    for key in sorted(a.keys() & b.keys()):
        (type_a, shape_a, bytes_a), (type_b, shape_b, bytes_b) = a[key], b[key]
        if (type_a, shape_a) != (type_b, shape_b):
            problems.append(f"{key}: {type_a}{list(shape_a)} against {type_b}{list(shape_b)}")
        elif bytes_a != bytes_b:
            problems.append(f"{key}: other values")
    if problems:
        print(f"{first} and {second} differ:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"identical: {first} and {second} ({len(a)} objects and attributes)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
