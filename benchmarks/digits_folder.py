"""Write scikit-learn's digits as a labelled image folder of CIFAR's shape: 32×32 RGB PNGs.

The images are upsampled ×4 (nearest) and replicated to three channels, in the
layout of the ``folder`` dataset (``ROOT/train/<digit>/``, ``ROOT/val/<digit>/``,
nasplug's own digits split), so a search on them runs the CIFAR-shaped path —
3 input channels, 32×32, the CIFAR stem, padded random crops and flips — on data
that exists offline (docs/supernet-training.md).

A horizontal flip does not preserve a digit's label as it preserves a CIFAR
object's. ``--mirrored`` writes each digit upsampled ×4 by ×2 (32×16) beside its
own mirror image, so that the flip maps every image onto itself: the same
information, with CIFAR's flips made harmless.

    python benchmarks/digits_folder.py /tmp/digits32 [--mirrored]
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


def upsampled(pixels: np.ndarray, *, mirrored: bool) -> np.ndarray:
    """One 8×8 digit as a 32×32 image: ×4 each way, or ×4 by ×2 beside its mirror image."""
    if not mirrored:
        return np.kron(pixels, np.ones((SCALE, SCALE), dtype=np.uint8))
    half = np.kron(pixels, np.ones((SCALE, SCALE // 2), dtype=np.uint8))
    return np.concatenate([half, half[:, ::-1]], axis=1)


def write(root: Path, *, mirrored: bool = False) -> tuple[int, int]:
    """The folder under ``root``; (training images, validation images)."""
    digits = load_digits()
    train, val = stratified_split(digits.target, TEST_FRACTION, SPLIT_SEED)
    for split, indices in (("train", train), ("val", val)):
        for index in indices:
            pixels = (digits.images[index] / 16 * 255).astype(np.uint8)
            pixels = upsampled(pixels, mirrored=mirrored)
            folder = root / split / str(digits.target[index])
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.stack([pixels] * 3, axis=-1), "RGB").save(folder / f"{index}.png")
    return len(train), len(val)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="folder to create (must not hold images yet)")
    parser.add_argument("--mirrored", action="store_true",
                        help="each digit beside its mirror image, so horizontal flips preserve the label")
    args = parser.parse_args()
    if args.root.exists() and any(args.root.iterdir()):
        raise SystemExit(f"{args.root} is not empty")
    train, val = write(args.root, mirrored=args.mirrored)
    print(f"wrote {train} training and {val} validation images to {args.root}")


if __name__ == "__main__":
    main()
