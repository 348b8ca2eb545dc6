"""One regret figure from several ``archgen bench search --out`` runs of the same task and oracle.

    python benchmarks/plot_search.py OUT.png RUNS.json [RUNS.json ...]

Every file's runs are drawn together (median regret with its 25-75% band per
strategy); the files must share the oracle and optimum.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from archgen.bench.search import plot_regret


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: plot_search.py OUT.png RUNS.json [RUNS.json ...]", file=sys.stderr)
        return 2
    out, files = Path(argv[0]), [Path(p) for p in argv[1:]]
    runs, meta = [], None
    for f in files:
        d = json.loads(f.read_text())
        if meta is not None and (d["meta"]["oracle"], d["meta"]["optimum"]) != (meta["oracle"], meta["optimum"]):
            print(f"error: {f} is of another oracle ({d['meta']['oracle']})", file=sys.stderr)
            return 2
        meta = meta or d["meta"]
        runs += d["runs"]
    plot_regret(runs, meta, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
