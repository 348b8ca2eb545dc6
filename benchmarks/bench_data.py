"""Data-layer benchmark: first-time processing, warm loads, lookup throughput, CIFAR-10 decode.

Run: ``python benchmarks/bench_data.py [--data-dir DIR] [--skip-cifar-train]``

Each cold/warm measurement runs in a fresh Python process against a fresh
cache directory, so it includes what a user pays (imports excluded: they are
timed separately). Prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import archgen.datasets as D
from archgen.context import Paths, Workspace
t_import = time.perf_counter() - t0
data_dir, cache_dir, what = sys.argv[1], sys.argv[2], sys.argv[3]
ws = Workspace(Paths.of(data_dir, cache_dir, cache_dir))
out = {"import_s": t_import}
if what == "verify":
    t = time.perf_counter(); D.DataStore(data_dir, cache_dir).verify(); out["s"] = time.perf_counter() - t
elif what == "tables":
    t = time.perf_counter()
    for name in D.list_tables():
        D.load_table(name, ws)
    out["s"] = time.perf_counter() - t
elif what == "lookup":
    table = D.load_table("nb201", ws)
    space = ws.space("nb201")
    rng = np.random.default_rng(0)
    rows = rng.integers(0, table.num_rows, 10_000)
    archs = [space.from_index(int(r)) for r in rows]
    table.query(archs[:10], "cifar10", "test_acc")  # warm the index
    reps = 200
    t = time.perf_counter()
    for _ in range(reps):
        table.lookup("cifar10", "test_acc", rows)
    out["rows_10k_ms"] = (time.perf_counter() - t) / reps * 1e3
    reps = 20
    t = time.perf_counter()
    for _ in range(reps):
        table.query(archs, "cifar10", "test_acc")
    out["archs_10k_ms"] = (time.perf_counter() - t) / reps * 1e3
    texts = [space.format(a) for a in archs]
    t = time.perf_counter()
    parsed = [space.parse(s) for s in texts]
    table.query(parsed, "cifar10", "test_acc")
    out["strings_10k_ms"] = (time.perf_counter() - t) * 1e3
elif what.startswith("cifar"):
    split = what.split("-")[1]
    t = time.perf_counter(); D.load_cifar10_arrays(split, D.DataStore(data_dir, cache_dir), progress=False); out["s"] = time.perf_counter() - t
print(json.dumps(out))
"""


def child(what: str, data_dir: str, cache_dir: str) -> dict:
    res = subprocess.run(
        [sys.executable, "-c", CHILD, data_dir, cache_dir, what], capture_output=True, text=True, check=False
    )
    if res.returncode != 0:
        raise SystemExit(f"benchmark step {what!r} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data-dir", default=None, help="benchmark data directory (default: ARCHGEN_DATA_DIR, else ../shared/data)"
    )
    ap.add_argument("--skip-cifar-train", action="store_true", help="decode only the 10,000-image test split")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from archgen.datasets import DataStore
    from archgen.settings import Settings

    settings = Settings.from_env(data_dir=args.data_dir)
    data_dir = str(DataStore(settings.paths.data_dir, tempfile.mkdtemp()).root)
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as cache:
        first_verify = child("verify", data_dir, cache)
        warm_verify = child("verify", data_dir, cache)
        cold_tables = child("tables", data_dir, cache)
        warm_tables = child("tables", data_dir, cache)
        lookup = child("lookup", data_dir, cache)
        rows += [
            ("import archgen.datasets + spaces", f"{warm_tables['import_s']:.2f} s"),
            ("first-time verify (sha256 of all 36 files)", f"{first_verify['s']:.2f} s"),
            ("later verify (size+mtime stamp)", f"{warm_verify['s'] * 1e3:.1f} ms"),
            ("first-time parse of all tables (nb201, nasbench_graph, nb101)", f"{cold_tables['s']:.2f} s"),
            ("warm load of all tables (from .npz cache)", f"{warm_tables['s']:.3f} s"),
            ("lookup 10,000 rows (one metric)", f"{lookup['rows_10k_ms']:.3f} ms"),
            ("lookup 10,000 Arch values (row resolution + metric)", f"{lookup['archs_10k_ms']:.2f} ms"),
            ("parse + lookup 10,000 arch strings", f"{lookup['strings_10k_ms']:.1f} ms"),
        ]
        test = child("cifar-test", data_dir, cache)
        rows.append(("CIFAR-10 test decode (10,000 JPEG)", f"{test['s']:.2f} s"))
        if not args.skip_cifar_train:
            train = child("cifar-train", data_dir, cache)
            rows.append(("CIFAR-10 train decode (50,000 JPEG)", f"{train['s']:.2f} s"))
        warm = child("cifar-test", data_dir, cache)
        rows.append(("CIFAR-10 test warm load (.npz cache)", f"{warm['s'] * 1e3:.1f} ms"))
    if args.json:
        print(json.dumps(dict(rows), indent=2))
        return
    width = max(len(k) for k, _ in rows)
    print(
        f"archgen data benchmark  ({time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, python {platform.python_version()})"
    )
    print(f"{'measurement':<{width}}  value")
    print(f"{'-' * width}  -----")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
