"""Write the distribution's compact table from the full NAS-Bench-201 JSON (run by maintainers only).

    python tools/compact_table.py ../../../shared/data/nb201/nb201.json.gz   # from plugins/nasplug-nb201

reads ``{arch_string: {field: value}}`` (the format described in the project's shared data README)
and writes ``src/nasplug_nb201/data/nb201.npz``: one float32 array per field, indexed by the cell's
base-5 code (:attr:`Nb201Genotype.code`), plus the device names of the latency matrix. The product reads
only that file; this script is how it was made.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import numpy as np

from nasplug_nb201.genotype import CELLS, Nb201Genotype
from nasplug_nb201.table import FIELDS

TABLE_FILE = Path(__file__).resolve().parents[1] / "src" / "nasplug_nb201" / "data" / "nb201.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="nb201.json.gz")
    parser.add_argument("--out", type=Path, default=TABLE_FILE)
    args = parser.parse_args()
    with gzip.open(args.source, "rt") as handle:
        rows = json.load(handle)
    if len(rows) != CELLS:
        raise SystemExit(f"{args.source}: {len(rows)} cells, expected {CELLS}")
    devices = sorted(next(iter(rows.values()))["latency_ms"])
    arrays = {field: np.full(CELLS, np.nan, dtype=np.float32) for field in FIELDS}
    index = np.full(CELLS, -1, dtype=np.int32)
    latency = np.full((CELLS, len(devices)), np.nan, dtype=np.float32)
    for arch, row in rows.items():
        code = Nb201Genotype.from_string(arch, str(args.source)).code
        for field in FIELDS:
            arrays[field][code] = row[field]
        index[code] = row["nb201_index"]
        latency[code] = [row["latency_ms"][device] for device in devices]
    np.savez_compressed(args.out, index=index, latency_ms=latency, devices=np.array(devices), **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
