#!/usr/bin/env python3
"""Regenerates the bundled example fleet: five images at three revisions.

The closures are Nix-style graphs made from Debian bookworm's package index
by shared/bench/debian_closures.py. Revisions are drawn the way
shared/bench/pullsim.py draws them (its seed-1 random generator, packages
that bookworm really updated, all in the fleet's closures): each revision
rebuilds 4 more, and a rebuilt package changes its store path and the paths
of everything that depends on it. popularity.json is the package set's
Nixery-style popularity for the fleet's packages, as pullsim.py gives its
planners. The UI's compare view and its tests use this fleet; `strata
simulate --popularity examples/fleet/popularity.json examples/fleet/rev0
examples/fleet/rev1 examples/fleet/rev2` measures it.

    python3 examples/fleet/generate.py [path/to/shared/bench]
"""
import glob
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "../../../shared/bench")
sys.path.insert(0, BENCH)
from debian_closures import Universe  # noqa: E402

IMAGES = ["curl", "git", "jq", "nginx-light", "python3-requests"]
REVISIONS, BUMPS, SEED = 3, 4, 1

packages = sorted(glob.glob(os.path.join(BENCH, "bookworm-*.Packages.xz")))
base = Universe(packages)
updates = [l.strip() for l in open(os.path.join(BENCH, "updates.txt")) if l.strip()]
pool = sorted(set(updates) & set().union(*[base.closure([i]) for i in IMAGES]))
rng = random.Random(SEED)
bumped = []
for r in range(REVISIONS):
    if r:
        bumped += rng.sample(pool, BUMPS)
    u = Universe(packages, bumped) if r else base
    out = os.path.join(HERE, f"rev{r}")
    os.makedirs(out, exist_ok=True)
    for image in IMAGES:
        with open(os.path.join(out, f"{image}.json"), "w") as f:
            json.dump(u.graph(u.closure([image])), f, indent=1)
            f.write("\n")
    print(f"rev{r}: rebuilt {', '.join(bumped) or 'nothing'}", file=sys.stderr)

# Nixery-style popularity (how many packages of the whole package set depend
# on each, plus one), as pullsim.py computes it, for the names in the fleet.
names = set()
for image in IMAGES:
    names |= {e["path"].split("-", 1)[1] for e in base.graph(base.closure([image]))["graph"]}
counts = {}
for n, deps in base.dag.items():
    for d in deps + [n]:
        name = base.path[d].split("-", 1)[1]
        if name in names:
            counts[name] = counts.get(name, 0) + 1
with open(os.path.join(HERE, "popularity.json"), "w") as f:
    json.dump({k: v for k, v in sorted(counts.items()) if v > 1}, f, indent=1)
    f.write("\n")
