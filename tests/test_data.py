"""Datasets, the search split and the deterministic loaders (nasplug.data)."""

from __future__ import annotations

import itertools
import pickle
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nasplug.data import (
    DATASETS,
    Cutout,
    DatasetError,
    cifar,
    digits,
    make_loader,
    split_indices,
)
from nasplug.core.space import DataShape
from nasplug.plugin import load_plugins
from nasplug.testing.cifar import write_cifar10, write_cifar100
from nasplug.testing.cifar import write_pickle as _write_pickle

# CIFAR files in the real pickle format: nasplug.testing.cifar (gpu_check.sh writes them too)

HOOKS = load_plugins()  # the built-in datasets, looked up as a run looks them up


def _unpickled(path: Path) -> dict:
    with path.open("rb") as file:
        return pickle.load(file, encoding="bytes")


def test_cifar10_loads_the_pickle_format_with_pixels_in_place(tmp_path):
    folder = write_cifar10(tmp_path)
    batch = _unpickled(folder / "data_batch_2")
    # one known pixel: image 3 of batch 2, green plane, row 5, column 9
    batch[b"data"][3, 1 * 1024 + 5 * 32 + 9] = 200
    _write_pickle(folder / "data_batch_2", batch)

    bundle = HOOKS.load_dataset("cifar10", tmp_path, download=False)

    assert bundle.shape == DataShape(num_classes=10, in_channels=3, input_size=32)
    assert len(bundle.train) == 20 and len(bundle.test) == 4
    train = bundle.train
    assert train.images.dtype == torch.uint8 and train.images.shape == (20, 3, 32, 32)
    assert train.images[4 + 3, 1, 5, 9] == 200  # batch 2 follows the 4 images of batch 1
    assert train.labels[4:8].tolist() == batch[b"labels"]
    assert train.classes[0] == "airplane" and len(train.classes) == 10
    test_batch = _unpickled(folder / "test_batch")
    image, label = bundle.test[2]
    assert label == test_batch[b"labels"][2]
    raw = torch.from_numpy(test_batch[b"data"][2].reshape(3, 32, 32)).float() / 255
    mean, std = _cifar10_statistics()
    torch.testing.assert_close(image, (raw - mean) / std)


def _cifar10_statistics() -> tuple[torch.Tensor, torch.Tensor]:
    release = cifar.RELEASES["cifar10"]
    return torch.tensor(release.mean)[:, None, None], torch.tensor(release.std)[:, None, None]


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar100_uses_the_fine_labels(tmp_path, protocol):
    folder = write_cifar100(tmp_path, protocol=protocol)
    bundle = HOOKS.load_dataset("cifar100", tmp_path, download=False)
    assert bundle.shape == DataShape(num_classes=100, in_channels=3, input_size=32)
    assert len(bundle.train) == 6 and len(bundle.test) == 3
    assert bundle.train.labels.tolist() == _unpickled(folder / "train")[b"fine_labels"]
    assert bundle.test.classes[7] == "fine7"


def test_cifar_augmentation_is_a_padded_crop_and_flip_of_the_image(tmp_path):
    write_cifar10(tmp_path)
    plain = HOOKS.load_dataset("cifar10", tmp_path, augment=False, download=False).train
    augmented = HOOKS.load_dataset("cifar10", tmp_path, augment=True, download=False).train
    image, _ = plain[5]
    mean, std = _cifar10_statistics()
    padded = (-mean / std).expand(3, 40, 40).clone()  # zero padding, normalised
    padded[:, 4:36, 4:36] = image
    candidates = [
        window.flip(-1) if flip else window
        for dy, dx, flip in itertools.product(range(9), range(9), (False, True))
        for window in [padded[:, dy : dy + 32, dx : dx + 32]]
    ]
    torch.manual_seed(0)
    outputs = [augmented[5][0] for _ in range(6)]
    for output in outputs:
        assert any(torch.allclose(output, candidate, atol=1e-6) for candidate in candidates)
    assert any(not torch.allclose(output, image) for output in outputs)


def test_cifar_cutout_and_resize(tmp_path):
    write_cifar10(tmp_path)
    bundle = HOOKS.load_dataset("cifar10", tmp_path, cutout=16, download=False, input_size=16)
    assert bundle.shape.input_size == 16
    image, _ = bundle.train[0]
    assert image.shape == (3, 16, 16)
    assert bundle.test[0][0].shape == (3, 16, 16)


def test_truncated_pickle_names_the_file(tmp_path):
    folder = write_cifar10(tmp_path)
    damaged = folder / "data_batch_3"
    damaged.write_bytes(damaged.read_bytes()[:500])
    with pytest.raises(DatasetError, match="data_batch_3 is truncated or corrupt"):
        HOOKS.load_dataset("cifar10", tmp_path, download=False)


def test_pickle_with_foreign_objects_is_refused(tmp_path):
    folder = write_cifar10(tmp_path)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": print}, protocol=2))
    with pytest.raises(
        DatasetError, match=r"test_batch is not a CIFAR file: it refers to __builtin__\.print;"
    ):
        HOOKS.load_dataset("cifar10", tmp_path, download=False)


def test_missing_batch_file_is_named(tmp_path):
    folder = write_cifar10(tmp_path)
    (folder / "data_batch_4").unlink()
    with pytest.raises(DatasetError, match="data_batch_4 is missing"):
        HOOKS.load_dataset("cifar10", tmp_path, download=False)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda batch: batch.update({b"labels": [10, 0, 0, 0]}), r"labels must lie in 0\.\.9"),
        (lambda batch: batch.update({b"labels": [1, 2]}), "'labels' is not a list of 4 integers"),
        (
            lambda batch: batch.update({b"data": np.zeros((4, 3072), np.float32)}),
            "'data' is not an N×3072 uint8",
        ),
        (lambda batch: batch.pop(b"labels"), "no 'labels' entry"),
    ],
)
def test_malformed_batches_are_explained(tmp_path, change, message):
    folder = write_cifar10(tmp_path)
    batch = _unpickled(folder / "data_batch_1")
    change(batch)
    _write_pickle(folder / "data_batch_1", batch)
    with pytest.raises(DatasetError, match=f"data_batch_1: {message}"):
        HOOKS.load_dataset("cifar10", tmp_path, download=False)


def test_meta_must_name_every_class(tmp_path):
    folder = write_cifar10(tmp_path)
    _write_pickle(folder / "batches.meta", {b"label_names": [b"cat", b"dog"]})
    with pytest.raises(DatasetError, match="batches.meta: 'label_names' should list the 10 class names"):
        HOOKS.load_dataset("cifar10", tmp_path, download=False)


def test_missing_folder_without_download_says_where_to_put_it(tmp_path):
    with pytest.raises(DatasetError, match=f"put the extracted cifar-100-python folder in {tmp_path}"):
        HOOKS.load_dataset("cifar100", tmp_path, download=False)


def test_failed_download_is_explained(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(cifar, "download_and_extract_archive", offline)
    with pytest.raises(
        DatasetError, match="CIFAR-10 not found in .* and the download failed .*no network.*; put"
    ):
        HOOKS.load_dataset("cifar10", tmp_path)


def test_download_fetches_the_official_archive(tmp_path, monkeypatch):
    requests = []

    def fake_download(url, download_root, md5, **kwargs):
        requests.append((url, md5))
        write_cifar10(Path(download_root))

    monkeypatch.setattr(cifar, "download_and_extract_archive", fake_download)
    bundle = HOOKS.load_dataset("cifar10", tmp_path)
    official = ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a")
    assert requests == [official]
    assert len(bundle.train) == 20
    HOOKS.load_dataset("cifar10", tmp_path)  # now found on disk: no second download
    assert len(requests) == 1


# ---------------------------------------------------------------- digits


def test_digits_split_is_fixed_stratified_and_complete():
    first = HOOKS.load_dataset("digits", augment=False)
    second = HOOKS.load_dataset("digits", augment=False)
    assert first.shape == DataShape(num_classes=10, in_channels=1, input_size=8)
    assert len(first.train) + len(first.test) == 1797
    assert first.train[0][0].shape == (1, 8, 8)
    torch.testing.assert_close(first.test.images, second.test.images)
    assert torch.equal(first.test.labels, second.test.labels)
    all_labels = torch.cat([first.train.labels, first.test.labels])
    for digit in range(10):
        in_class = int((all_labels == digit).sum())
        held_out = int((first.test.labels == digit).sum())
        assert held_out == round(0.2 * in_class)
    train_rows = {tuple(row.tolist()) for row in first.train.images.flatten(1)}
    assert not any(tuple(row.tolist()) in train_rows for row in first.test.images.flatten(1))


def test_stratified_split_holds_out_the_fraction_of_every_class():
    labels = np.array([0] * 10 + [1] * 5 + [2] * 2)
    train, test = digits.stratified_split(labels, 0.2, seed=0)
    assert sorted(train + test) == list(range(17)) and train == sorted(train) and test == sorted(test)
    assert [int((labels[test] == c).sum()) for c in range(3)] == [
        2,
        1,
        0,
    ]  # round(2.0), round(1.0), round(0.4)
    assert (train, test) == digits.stratified_split(labels, 0.2, seed=0)


def test_digits_are_normalised_with_training_statistics_and_resizable():
    bundle = HOOKS.load_dataset("digits", input_size=16)
    assert bundle.shape.input_size == 16
    assert bundle.train[0][0].shape == (1, 16, 16) and bundle.test[0][0].shape == (1, 16, 16)
    assert abs(float(bundle.train.images.mean())) < 1e-5
    assert abs(float(bundle.train.images.std()) - 1) < 1e-4


def test_digits_augmentation_is_a_small_shift_and_test_is_plain():
    bundle = HOOKS.load_dataset("digits", augment=True)
    image = bundle.train.images[11]
    background = float(bundle.train.images.min())
    padded = torch.full((1, 10, 10), background)
    padded[:, 1:9, 1:9] = image
    shifts = [padded[:, dy : dy + 8, dx : dx + 8] for dy in range(3) for dx in range(3)]
    torch.manual_seed(0)
    outputs = [bundle.train[11][0] for _ in range(8)]
    assert all(any(torch.equal(out, shifted) for shifted in shifts) for out in outputs)
    assert any(not torch.equal(out, image) for out in outputs)
    assert torch.equal(bundle.test[3][0], bundle.test.images[3])


# ---------------------------------------------------------------- ImageFolder (ImageNet layout)


def _write_image_folder(root: Path, classes: dict[str, int]) -> None:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for name, count in classes.items():
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 256, size=(12, 10, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")


def test_image_folder_loads_in_imagenet_layout(tmp_path):
    _write_image_folder(tmp_path, {"n01": 2, "n02": 1, "n03": 2})
    bundle = HOOKS.load_dataset("imagenet", tmp_path, input_size=8)
    assert bundle.shape == DataShape(num_classes=3, in_channels=3, input_size=8)
    assert len(bundle.train) == 5 and len(bundle.test) == 5
    image, label = bundle.train[2]
    assert image.shape == (3, 8, 8) and image.dtype == torch.float32 and label == 1
    test_image, _ = bundle.test[0]
    assert test_image.shape == (3, 8, 8)
    assert torch.equal(test_image, bundle.test[0][0])  # validation transform is deterministic


def test_image_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match="train is missing; put one folder per class"):
        HOOKS.load_dataset("imagenet", tmp_path)
    _write_image_folder(tmp_path, {"n01": 1, "n02": 1})
    (tmp_path / "val" / "n02" / "0.png").rename(tmp_path / "val" / "n01" / "1.png")
    (tmp_path / "val" / "n02").rmdir()
    with pytest.raises(DatasetError, match="must hold the same class folders; 1 differ, e.g. n02"):
        HOOKS.load_dataset("imagenet", tmp_path)


# ---------------------------------------------------------------- names and options


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(
        DatasetError, match="unknown dataset 'mnist'; choose one of digits, cifar10, cifar100, imag"
    ):
        HOOKS.load_dataset("mnist")
    assert DATASETS == ("digits", "cifar10", "cifar100", "imagenet", "folder")
    assert HOOKS.dataset_shape("CIFAR100") == DataShape(num_classes=100, in_channels=3, input_size=32)


def test_cutout_needs_augmentation():
    with pytest.raises(DatasetError, match="cutout is a training augmentation"):
        HOOKS.load_dataset("digits", augment=False, cutout=4)


# ---------------------------------------------------------------- search split


def test_split_indices_is_a_seeded_partition():
    train, search = split_indices(101, 0.5, seed=3)
    assert len(train) == 50 and len(search) == 51  # round(50.5) rounds half to even
    assert sorted(train + search) == list(range(101))
    assert (train, search) == split_indices(101, 0.5, seed=3)
    assert train != split_indices(101, 0.5, seed=4)[0]
    assert len(split_indices(10, 0.8, seed=0)[0]) == 8


@pytest.mark.parametrize(
    "n, fraction, message",
    [
        (3, 0.1, "leaves the weight-training part empty"),
        (3, 0.9, "leaves the search part empty"),
        (10, 1.0, "strictly between 0 and 1"),
        (10, 0.0, "strictly between 0 and 1"),
    ],
)
def test_split_indices_refuses_an_empty_side(n, fraction, message):
    with pytest.raises(DatasetError, match=message):
        split_indices(n, fraction, seed=0)


# ---------------------------------------------------------------- loaders


def _indices(loader) -> list[list[int]]:
    return [batch[0].tolist() for batch in loader]


def _numbered(n: int) -> torch.utils.data.TensorDataset:
    return torch.utils.data.TensorDataset(torch.arange(n))


def test_loader_order_is_fixed_by_seed_and_epoch():
    data = _numbered(50)
    first = _indices(make_loader(data, 8, shuffle=True, seed=7, epoch=2))
    assert first == _indices(make_loader(data, 8, shuffle=True, seed=7, epoch=2))
    assert sorted(sum(first, [])) == list(range(50)) and [len(b) for b in first] == [8] * 6 + [2]
    assert first != _indices(make_loader(data, 8, shuffle=True, seed=7, epoch=3))
    assert first != _indices(make_loader(data, 8, shuffle=True, seed=8, epoch=2))
    assert _indices(make_loader(data, 8, shuffle=False, seed=7, epoch=2))[0] == list(range(8))
    assert len(make_loader(data, 8, shuffle=True, seed=7, epoch=2, drop_last=True)) == 6


def test_ranks_get_disjoint_equal_shards_of_one_permutation():
    data = _numbered(40)
    shards = [
        sum(_indices(make_loader(data, 6, shuffle=True, seed=1, epoch=0, rank=r, world_size=2)), [])
        for r in range(2)
    ]
    assert len(shards[0]) == len(shards[1]) == 20
    assert set(shards[0]).isdisjoint(shards[1]) and set(shards[0]) | set(shards[1]) == set(range(40))
    # an uneven split wraps around: 3 ranks × 14 = 42, the first 2 items of the permutation repeat
    odd = [
        sum(_indices(make_loader(data, 5, shuffle=True, seed=1, epoch=0, rank=r, world_size=3)), [])
        for r in range(3)
    ]
    assert [len(shard) for shard in odd] == [14, 14, 14]
    together = sum(odd, [])
    assert set(together) == set(range(40)) and len(together) - len(set(together)) == 2


def test_loader_rejects_bad_arguments():
    with pytest.raises(DatasetError, match="rank 2 is not one of the 2 ranks"):
        make_loader(_numbered(4), 2, shuffle=True, seed=0, epoch=0, rank=2, world_size=2)
    with pytest.raises(DatasetError, match="batch size must be at least 1"):
        make_loader(_numbered(4), 0, shuffle=True, seed=0, epoch=0)
    with pytest.raises(DatasetError, match="seed must be a non-negative integer"):
        make_loader(_numbered(4), 2, shuffle=True, seed=-1, epoch=0)
    with pytest.raises(DatasetError, match="below 2\\*\\*64"):  # what torch's and numpy's generators take
        make_loader(_numbered(4), 2, shuffle=True, seed=2**64, epoch=0)


class _RandomNoise(torch.utils.data.Dataset):
    """Each item draws from torch's global generator, as a random augmentation does."""

    def __len__(self) -> int:
        return 12

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.rand(()) + index


def test_augmentation_in_workers_repeats_for_the_same_seed_and_epoch():
    def draws(epoch: int) -> list[float]:
        loader = make_loader(_RandomNoise(), 3, shuffle=True, seed=5, epoch=epoch, num_workers=2)
        return torch.cat(list(loader)).tolist()

    first = draws(0)
    assert first == draws(0)
    assert first != draws(1)


# ---------------------------------------------------------------- Cutout


def test_cutout_zeroes_one_square():
    interior = 0
    for seed in range(20):
        torch.manual_seed(seed)
        image = torch.ones(3, 20, 20)
        erased = Cutout(8)(image)
        assert torch.equal(image, torch.ones(3, 20, 20))  # the input is left alone
        zero = erased == 0
        assert torch.equal(zero[0], zero[1]) and torch.equal(zero[0], zero[2])  # same square on every channel
        rows = zero[0].any(1).nonzero().flatten()
        cols = zero[0].any(0).nonzero().flatten()
        box = torch.zeros(20, 20, dtype=torch.bool)
        box[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] = True
        assert torch.equal(zero[0], box)  # the erased pixels form one rectangle ...
        assert len(rows) <= 8 and len(cols) <= 8  # ... at most 8 by 8, clipped at the border
        interior += len(rows) == len(cols) == 8
    assert interior > 0


def test_cutout_square_is_centred_on_the_drawn_pixel():
    torch.manual_seed(123)
    centre_y, centre_x = int(torch.randint(16, ())), int(torch.randint(16, ()))
    torch.manual_seed(123)
    erased = Cutout(4)(torch.ones(1, 16, 16))
    expected = torch.ones(1, 16, 16)
    expected[:, max(centre_y - 2, 0) : centre_y + 2, max(centre_x - 2, 0) : centre_x + 2] = 0
    assert torch.equal(erased, expected)
    assert Cutout(40)(torch.ones(2, 16, 16)).abs().sum() == 0  # twice the image: covers it from any centre
