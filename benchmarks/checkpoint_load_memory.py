"""Peak Python memory of loading a checkpoint, as a multiple of its payload (tracemalloc).

A 100 MB checkpoint (25 M float32 weights) is written with save_checkpoint and loaded with
load_checkpoint; tracemalloc's peak during the load counts the file's bytes held by Python (torch's own
tensor storage is not traced, so the ratio is what the reading and verifying cost on top of the tensors).

    python benchmarks/checkpoint_load_memory.py
"""

from __future__ import annotations

import tempfile
import tracemalloc
from pathlib import Path

import torch

from nasplug.runs.checkpoint import load_checkpoint, save_checkpoint


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "epoch-0001.pt"
        save_checkpoint(path, {"format": "benchmark", "model": {"weight": torch.zeros(25_000_000)}})
        size = path.stat().st_size
        tracemalloc.start()
        load_checkpoint(path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(f"checkpoint {size / 1e6:.1f} MB: peak traced memory while loading {peak / 1e6:.1f} MB "
          f"({peak / size:.2f}x the file)")


if __name__ == "__main__":
    main()
