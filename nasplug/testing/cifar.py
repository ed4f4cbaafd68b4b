"""CIFAR-10/100 files in the real python-release pickle format, with synthetic pixels.

For tests and for machines without the dataset (``benchmarks/gpu_check.sh``):
``python -m nasplug.testing.cifar ROOT --per-batch N`` writes CIFAR-10 with N
random images in each of its five training batches and in its test batch, under
``ROOT/cifar-10-batches-py`` where ``--data-dir ROOT`` finds it.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np

CIFAR10_NAMES = "airplane automobile bird cat deer dog frog horse ship truck".split()


def write_pickle(path: Path, content: dict, protocol: int = 2) -> None:
    """Pickle ``content`` as the official files were: by Python 2 (protocol 2), every key a byte string."""
    path.write_bytes(pickle.dumps(content, protocol=protocol))


def _batch(rng: np.random.Generator, n: int, label_key: bytes, num_classes: int) -> dict:
    return {
        b"batch_label": b"a batch",
        b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
        label_key: rng.integers(0, num_classes, size=n).tolist(),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }


def write_cifar10(root: Path, per_batch: int = 4, seed: int = 0) -> Path:
    """Five training batches and a test batch of ``per_batch`` random images each; returns the folder."""
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        write_pickle(folder / name, _batch(rng, per_batch, b"labels", 10))
    names = [name.encode() for name in CIFAR10_NAMES]
    write_pickle(folder / "batches.meta", {b"label_names": names, b"num_cases_per_batch": per_batch})
    return folder


def write_cifar100(root: Path, n_train: int = 6, n_test: int = 3, protocol: int = 2) -> Path:
    """CIFAR-100's train and test files (fine and coarse labels) and its meta; returns the folder."""
    folder = Path(root) / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name, n in (("train", n_train), ("test", n_test)):
        batch = _batch(rng, n, b"fine_labels", 100)
        batch[b"coarse_labels"] = rng.integers(0, 20, size=n).tolist()
        write_pickle(folder / name, batch, protocol)
    meta = {
        b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
        b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)],
    }
    write_pickle(folder / "meta", meta, protocol)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description="Write synthetic CIFAR-10 in the real pickle format.")
    parser.add_argument("root", type=Path, help="folder to write cifar-10-batches-py into (--data-dir)")
    parser.add_argument("--per-batch", type=int, default=10_000,
                        help="images per training batch and in the test batch (default 10000, the real count)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(write_cifar10(args.root, args.per_batch, args.seed))


if __name__ == "__main__":
    main()
