"""Write scikit-learn's digits as a labelled image folder of CIFAR's shape: 32×32 RGB PNGs.

The images are upsampled ×4 (nearest) and replicated to three channels, in the
layout of the ``folder`` dataset (``ROOT/train/<digit>/``, ``ROOT/val/<digit>/``,
nasplug's own digits split), so a search on them runs the CIFAR-shaped path —
3 input channels, 32×32, the CIFAR stem, padded random crops and flips — on data
that exists offline (docs/supernet-training.md).

    python benchmarks/digits_folder.py /tmp/digits32
    nasplug run --space darts-cell --controller mdenas --dataset folder --data-dir /tmp/digits32
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

from nasplug.data.digits import SPLIT_SEED, TEST_FRACTION, stratified_split

SCALE = 4


def write(root: Path) -> tuple[int, int]:
    """The folder under ``root``; (training images, validation images)."""
    digits = load_digits()
    train, val = stratified_split(digits.target, TEST_FRACTION, SPLIT_SEED)
    for split, indices in (("train", train), ("val", val)):
        for index in indices:
            pixels = (digits.images[index] / 16 * 255).astype(np.uint8)
            pixels = np.kron(pixels, np.ones((SCALE, SCALE), dtype=np.uint8))
            folder = root / split / str(digits.target[index])
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.stack([pixels] * 3, axis=-1), "RGB").save(folder / f"{index}.png")
    return len(train), len(val)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="folder to create (must not hold images yet)")
    args = parser.parse_args()
    if args.root.exists() and any(args.root.iterdir()):
        raise SystemExit(f"{args.root} is not empty")
    train, val = write(args.root)
    print(f"wrote {train} training and {val} validation images to {args.root}")


if __name__ == "__main__":
    main()
