"""CIFAR-10 and CIFAR-100, read from the official python-pickle release.

Each batch file is a pickled dict: ``data`` is an ``N×3072`` uint8 array whose
rows hold the 1024 red, then green, then blue values of a 32×32 image (each
plane row-major), so ``reshape(N, 3, 32, 32)`` gives CHW images; the labels
are a list of ints. We read the files ourselves (not torchvision's CIFAR
classes, whose checksums reject any other file) and unpickle with an allow-list
of numpy array constructors, because a pickle can otherwise run any code.
"""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from torchvision.datasets.utils import download_and_extract_archive

from nasplug.data.bundle import DataBundle, DatasetError, TensorImages, TensorSource, with_transform
from nasplug.data.preprocessing import Preprocessing
from nasplug.data.pipelines import small_image_transforms
from nasplug.core.space import DataShape

IMAGE_SIZE = 32
_PIXELS = 3 * IMAGE_SIZE * IMAGE_SIZE


@attrs.frozen
class CifarRelease:
    """Where one CIFAR release lives, what its files are called and its channel statistics."""

    title: str
    folder: str
    train_files: tuple[str, ...]
    test_file: str
    meta_file: str
    label_key: str
    names_key: str
    num_classes: int
    url: str
    md5: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


RELEASES = {
    "cifar10": CifarRelease(
        title="CIFAR-10",
        folder="cifar-10-batches-py",
        train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
        test_file="test_batch",
        meta_file="batches.meta",
        label_key="labels",
        names_key="label_names",
        num_classes=10,
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        md5="c58f30108f718f92721af3b95e74349a",
        mean=(0.4914, 0.4822, 0.4465),
        std=(0.2470, 0.2435, 0.2616),
    ),
    "cifar100": CifarRelease(
        title="CIFAR-100",
        folder="cifar-100-python",
        train_files=("train",),
        test_file="test",
        meta_file="meta",
        label_key="fine_labels",
        names_key="fine_label_names",
        num_classes=100,
        url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        md5="eb9058c3a382ffc7106e4002c42a8d85",
        mean=(0.5071, 0.4865, 0.4409),
        std=(0.2673, 0.2564, 0.2762),
    ),
}


def load_cifar(
    name: str, root: Path, *, augment: bool, cutout: int, download: bool, input_size: int | None,
    statistics: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
) -> DataBundle:
    """CIFAR-10/100 from ``root/<release folder>``, downloaded there first if allowed and missing.

    ``statistics`` (mean, std) replace the release's channel statistics in the normalisation.
    """
    release = RELEASES[name]
    folder = _locate(release, root, download)
    classes = _label_names(folder / release.meta_file, release)
    train_images, train_labels = _read_batches([folder / f for f in release.train_files], release)
    test_images, test_labels = _read_batches([folder / release.test_file], release)
    size = input_size or IMAGE_SIZE
    mean, std = statistics or (release.mean, release.std)
    train_transform, test_transform = small_image_transforms(
        mean, std, size, resize=size != IMAGE_SIZE, augment=augment, cutout=cutout
    )
    train = TensorImages(train_images, train_labels, classes, train_transform)
    return DataBundle(
        name=name,
        train=train,
        train_plain=with_transform(train, test_transform),
        test=TensorImages(test_images, test_labels, classes, test_transform),
        shape=DataShape(num_classes=release.num_classes, in_channels=3, input_size=size),
        # small_image_transforms' recipe at the release's own size; resized images stay on the host
        train_source=None if size != IMAGE_SIZE else TensorSource(
            train_images, train_labels, padding=size // 8 if augment else 0, flip=augment,
            cutout=cutout if augment else 0, mean=mean, std=std,
        ),
        preprocessing=Preprocessing("RGB", 255, size, size, mean, std, classes),
    )


def _locate(release: CifarRelease, root: Path, download: bool) -> Path:
    folder = root / release.folder
    if folder.is_dir():
        return folder
    hint = f"put the extracted {release.folder} folder in {root}"
    if not download:
        raise DatasetError(f"{release.title} not found in {root} (downloading is off); {hint}")
    # offline or HTTP failures are OSErrors (URLError); a checksum mismatch is a RuntimeError
    try:
        download_and_extract_archive(release.url, download_root=root, md5=release.md5, remove_finished=True)
    except (OSError, RuntimeError, tarfile.TarError) as error:
        failure = f"{release.title} not found in {root} and the download failed ({error})"
        raise DatasetError(f"{failure}; {hint}") from error
    if not folder.is_dir():
        raise DatasetError(f"the downloaded {release.title} archive held no {release.folder} folder; {hint}")
    return folder


def _read_batches(paths: list[Path], release: CifarRelease) -> tuple[torch.Tensor, torch.Tensor]:
    parts = [_read_batch(path, release) for path in paths]
    images = torch.cat([images for images, _ in parts])
    labels = torch.cat([labels for _, labels in parts])
    return images, labels


def _read_batch(path: Path, release: CifarRelease) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch file as (``N×3×32×32`` uint8 images, ``N`` int64 labels)."""
    batch = _unpickle(path)
    data = batch.get("data")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.shape[1:] != (_PIXELS,):
        raise DatasetError(f"{path}: 'data' is not an N×{_PIXELS} uint8 array")
    if release.label_key not in batch:
        raise DatasetError(f"{path}: no '{release.label_key}' entry")
    labels = np.asarray(batch[release.label_key])
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"{path}: '{release.label_key}' is not a list of {len(data)} integers")
    if len(labels) and not 0 <= labels.min() <= labels.max() < release.num_classes:
        raise DatasetError(f"{path}: labels must lie in 0..{release.num_classes - 1}")
    images = torch.from_numpy(data.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE).copy())
    return images, torch.from_numpy(labels.astype(np.int64))


def _label_names(path: Path, release: CifarRelease) -> tuple[str, ...]:
    names = _unpickle(path).get(release.names_key)
    if not isinstance(names, list) or len(names) != release.num_classes:
        raise DatasetError(f"{path}: '{release.names_key}' should list the {release.num_classes} class names")
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)


class _ForeignObject(pickle.UnpicklingError):
    """The pickle refers to something other than numpy arrays."""


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays, nothing else."""

    _ALLOWED = frozenset(
        (f"numpy{core}.{module}", name)
        for core in (".core", "._core")  # numpy 1 and numpy 2 module paths
        for module, name in (
            ("multiarray", "_reconstruct"),
            ("multiarray", "scalar"),
            ("numeric", "_frombuffer"),
        )
    ) | {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how Python 3 writes bytes at protocol 2, the protocol of the release
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise _ForeignObject(f"{module}.{name}")
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict[str, Any]:
    """A CIFAR pickle as a dict with str keys (the release was pickled by Python 2: keys arrive as bytes)."""
    if not path.is_file():
        raise DatasetError(f"{path} is missing; the {path.parent.name} folder is incomplete")
    try:
        with path.open("rb") as file:
            content = _ArrayUnpickler(file, encoding="bytes").load()
    except OSError as error:
        raise DatasetError(f"cannot read {path}: {error.strerror or error}") from error
    except _ForeignObject as error:
        raise DatasetError(f"{path} is not a CIFAR file: it refers to {error}; not unpickled") from None
    except Exception as error:  # any unpickling failure means a damaged file, whatever the exception type
        raise DatasetError(f"{path} is truncated or corrupt ({type(error).__name__}: {error})") from error
    if not isinstance(content, dict):
        raise DatasetError(f"{path} does not hold a CIFAR dict but a {type(content).__name__}")
    return {key.decode() if isinstance(key, bytes) else key: value for key, value in content.items()}
