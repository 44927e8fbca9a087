#!/usr/bin/env python3
"""Closures of about N store paths for the UI benchmark (tests/bench/ui.sh),
from ../shared/bench/debian_closures.py's Debian universe: the closure of
Debian's packages taken in name order, each whole, until the next would pass
N paths (so every closure is a real union of package closures, roots
included, and the same N always gives the same file).

  closures.py DEBIAN_CLOSURES_DIR OUT_DIR N...   # writes OUT_DIR/N.json
"""
import glob
import json
import os
import sys

sys.path.insert(0, sys.argv[1])
from debian_closures import Universe  # noqa: E402


def main():
    here, out, sizes = sys.argv[1], sys.argv[2], [int(n) for n in sys.argv[3:]]
    u = Universe(sorted(glob.glob(os.path.join(here, "bookworm-*.Packages.xz"))))
    os.makedirs(out, exist_ok=True)
    for n in sizes:
        names = set()
        for root in sorted(u.dag):
            more = u.closure([root]) - names
            if len(names) + len(more) <= n:
                names |= more
            if len(names) >= n * 0.98:
                break
        with open(os.path.join(out, f"{n}.json"), "w") as f:
            json.dump(u.graph(names), f)
        print(f"{n}.json: {len(names)} paths", file=sys.stderr)


if __name__ == "__main__":
    main()
