"""The datasets that ship with nasplug, served through the ``list_datasets``/``build_dataset`` hooks.

Each loader is imported on use: torchvision and scikit-learn take seconds to import, and commands that
only need a nominal shape (``nasplug info``, ``show``) should not wait for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from nasplug.data.bundle import DataBundle, DatasetError, DatasetInfo, DatasetOptions
from nasplug.core.markers import hookimpl
from nasplug.core.space import DataShape

DEFAULT_DATA_DIR = Path("~/.cache/nasplug/data")

NORMALISATIONS: tuple[str, ...] = ("dataset", "symmetric")
"""``dataset``: per-channel mean and std of the dataset (DARTS); ``symmetric``: pixels mapped to [-1, 1]."""
SYMMETRIC = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
"""(mean, std) that map [0, 1] pixels onto [-1, 1] (MdeNAS §5.1.1, CIFAR-10)."""

BUILTIN_DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo("UCI handwritten digits from scikit-learn, 8x8 grey, offline",
                          DataShape(num_classes=10, in_channels=1, input_size=8)),
    "cifar10": DatasetInfo("CIFAR-10, python release (downloaded if missing)",
                           DataShape(num_classes=10, in_channels=3, input_size=32)),
    "cifar100": DatasetInfo("CIFAR-100, python release (downloaded if missing)",
                            DataShape(num_classes=100, in_channels=3, input_size=32)),
    "imagenet": DatasetInfo("ImageNet as --data-dir/train/<class>/ and val/<class>/",
                            DataShape(num_classes=1000, in_channels=3, input_size=224)),
    "folder": DatasetInfo("any labelled image folder: --data-dir/train/<class>/*, val/<class>/*"),
}  # fmt: skip


@hookimpl
def list_datasets() -> Mapping[str, DatasetInfo]:
    return BUILTIN_DATASETS


@hookimpl
def build_dataset(name: str, data_dir: Path | None, options: DatasetOptions) -> DataBundle | None:
    if name not in BUILTIN_DATASETS:
        return None
    statistics = SYMMETRIC if options.normalisation == "symmetric" else None
    if statistics is not None and name in ("digits", "folder"):
        raise DatasetError(f"the symmetric normalisation applies to CIFAR and ImageNet; {name} images are "
                           f"normalised with their own statistics")
    if name == "digits":
        from nasplug.data.digits import load_digits

        return load_digits(augment=options.augment, cutout=options.cutout, input_size=options.input_size)
    if name == "folder":
        from nasplug.data.folder import load_folder

        return load_folder(data_dir, augment=options.augment, cutout=options.cutout,
                           input_size=options.input_size)
    root = (data_dir if data_dir is not None else DEFAULT_DATA_DIR).expanduser()
    if name == "imagenet":
        from nasplug.data.imagenet import load_imagenet

        return load_imagenet(root, augment=options.augment, cutout=options.cutout,
                             input_size=options.input_size, statistics=statistics)
    if name in ("cifar10", "cifar100"):
        from nasplug.data.cifar import load_cifar

        return load_cifar(name, root, augment=options.augment, cutout=options.cutout,
                          download=options.download, input_size=options.input_size, statistics=statistics)
    return None
