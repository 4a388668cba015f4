#!/usr/bin/env python3
"""Compare two `nfp eval --json` reports, ignoring what depends on the machine's speed.

Usage: scripts/eval_diff.py A.json B.json
Exits 0 when every run and every per-trial record agree (success, steps, plans,
log-likelihoods, hold steps, seeds), 1 with the first differences otherwise. Wall times,
latencies and the policy's path are left out. For checking that a refactor changed no
behaviour: run the same eval with the old and the new build and compare.
"""
import json
import sys

TIMING = ("wall", "latency", "_ms", "time")


def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items()
                if k != "policy" and not any(t in k for t in TIMING)}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x


def diff(a, b, path, out):
    if type(a) is not type(b):
        out.append(f"{path}: {a!r} != {b!r}")
    elif isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in {'B' if k not in a else 'A'}")
            else:
                diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} entries != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: {a!r} != {b!r}")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = (strip(json.load(open(p))) for p in sys.argv[1:])
    out = []
    diff(a, b, "$", out)
    trials = sum(len(r.get("records", [])) for r in a.get("runs", []))
    if out:
        print("\n".join(out[:20]))
        print(f"{len(out)} differences")
        sys.exit(1)
    print(f"identical: {len(a.get('runs', []))} runs, {trials} per-trial records")


if __name__ == "__main__":
    main()
