"""Data on the device (nasplug.data.device): the host pipelines' augmentation, order, sharding and resume."""

import shutil

import attrs
import pytest
import torch

from nasplug.data import make_loader
from nasplug.data.loaders import derived_seed
from nasplug.data.bundle import DatasetError, TensorImages, TensorSource
from nasplug.data.cifar import load_cifar
from nasplug.data.device import DeviceSplit, cycling_device_batches, use_device_data
from nasplug.data.digits import load_digits
from nasplug.data.pipelines import small_image_transforms
from nasplug.data.transforms import Cutout
from nasplug.search import RunError, SearchConfig, run_search
from nasplug.runs.checkpoint import checkpoint_paths
from nasplug.plugin import load_plugins
from nasplug.testing.cifar import write_cifar10
from test_search import history_without_times, tiny_config

CPU = torch.device("cpu")
DRAWS = 2000


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    """The CIFAR-10 bundle (synthetic pixels) with the search's augmentation and Cutout 16."""
    root = tmp_path_factory.mktemp("cifar")
    write_cifar10(root, per_batch=8)
    return load_cifar("cifar10", root, augment=True, cutout=16, download=False, input_size=None)


def planted(size=32, channels=3):
    """One uint8 image: background 100, marker A (value 200) left of and above marker B (value 250)."""
    image = torch.full((channels, size, size), 100, dtype=torch.uint8)
    image[:, size // 4, size // 6] = 200
    image[:, size // 2, size // 3] = 250
    return image


def crop_and_flip(batch, size):
    """Per image (row shift, column shift, mirrored) recovered from where the two markers went."""
    plane = batch[:, 0].flatten(1)
    b = plane.argmax(1)  # marker B is the brightest, A the next
    a = plane.scatter(1, b.view(-1, 1), -torch.inf).argmax(1)
    rows_b, cols_b, cols_a = b // size, b % size, a % size
    mirrored = cols_a > cols_b
    cols = torch.where(mirrored, size - 1 - cols_b, cols_b)
    return rows_b - size // 2, cols - size // 3, mirrored


def host_batch(transform, image, draws):
    torch.manual_seed(0)
    return torch.stack([transform(image) for _ in range(draws)])


def device_batch(source, image, draws, seed=0):
    source = attrs.evolve(source, images=image.expand(draws, *image.shape).contiguous(),
                          labels=torch.zeros(draws, dtype=torch.long))
    return DeviceSplit(source, range(draws), CPU).augmented(torch.arange(draws), seed)[0]


def test_cifar_crop_and_flip_follow_the_host_pipeline(cifar):
    source = attrs.evolve(cifar.train_source, cutout=0)  # the markers must survive
    assert (source.padding, source.flip) == (4, True)
    transform, _ = small_image_transforms(source.mean, source.std, 32, resize=False, augment=True, cutout=0)
    image = planted()
    for batch in (host_batch(transform, image, DRAWS), device_batch(source, image, DRAWS)):
        rows, cols, mirrored = crop_and_flip(batch, 32)
        assert set(rows.tolist()) == set(range(-4, 5)) == set(cols.tolist())  # ±padding, every offset drawn
        assert abs(mirrored.float().mean() - 0.5) < 0.05
        # padded pixels hold the normalised zero pixel, as torchvision's zero-padded crop gives
        zero = (0 - torch.tensor(source.mean)) / torch.tensor(source.std)
        assert torch.allclose(batch.amin((0, 2, 3)), zero, atol=1e-6)


def test_digits_shift_without_flipping_as_the_host_does():
    bundle = load_digits(augment=True, cutout=0, input_size=None)
    source = bundle.train_source
    assert (source.padding, source.flip) == (1, False)
    image = planted(size=8, channels=1).float()
    device = device_batch(source, image, DRAWS)
    host = host_batch(bundle.train.transform, image, DRAWS)
    for batch in (host, device):
        rows, cols, mirrored = crop_and_flip(batch, 8)
        assert set(rows.tolist()) == set(range(-1, 2)) == set(cols.tolist())
        assert not mirrored.any()
        assert batch.min() == pytest.approx(source.fill)  # shifted in: the background


def test_cutout_zeroes_a_square_of_its_side_as_the_host_does(cifar):
    source = attrs.evolve(cifar.train_source, padding=0, flip=False)
    image = planted()
    _, test = small_image_transforms(source.mean, source.std, 32, resize=False, augment=False, cutout=0)
    host = host_batch(lambda x: Cutout(16)(test(x)), image, DRAWS)
    device = device_batch(source, image, DRAWS)
    areas = {}
    for name, batch in (("host", host), ("device", device)):
        erased = (batch == 0).all(1)  # N×H×W: zero in every channel
        rows, cols = erased.any(2).sum(1), erased.any(1).sum(1)
        assert torch.equal(erased.sum((1, 2)), rows * cols)  # a rectangle ...
        assert rows.max() == cols.max() == 16 and rows.min() >= 8  # ... of side 16, clipped to ≥ half
        areas[name] = float(erased.sum((1, 2)).float().mean())
    assert areas["device"] == pytest.approx(areas["host"], rel=0.05)


def test_normalisation_equals_the_host_pipeline_on_plain_images(cifar):
    split = DeviceSplit(cifar.train_source, range(len(cifar.train)), CPU)
    images = torch.cat([x for x, _ in split.in_order(7)])
    expected = torch.stack([cifar.test.transform(image) for image in cifar.train.images])
    assert torch.allclose(images, expected, atol=1e-6)
    digits = load_digits(augment=True, cutout=0, input_size=None)
    split = DeviceSplit(digits.train_source, range(len(digits.train)), CPU)
    assert torch.equal(torch.cat([x for x, _ in split.in_order(500)]), digits.train.images)


def indexed_source(count, **recipe):
    """Images whose labels are their own index, to read off which images a batch holds."""
    images = torch.randint(0, 256, (count, 1, 4, 4), dtype=torch.uint8)
    return TensorSource(images, torch.arange(count), mean=(0.5,), std=(0.25,), **recipe)


def test_an_epoch_takes_every_image_once_in_the_data_loaders_batches():
    source = indexed_source(103, padding=1)
    split = DeviceSplit(source, range(103), CPU)
    everything = split.epoch(10, order_seed=5, augmentation_seed=lambda b: b, drop_last=False)
    assert sorted(torch.cat([y for _, y in everything]).tolist()) == list(range(103))
    dropped = split.epoch(10, order_seed=5, augmentation_seed=lambda b: b, drop_last=True)
    loader = make_loader(TensorImages(source.images, source.labels, ["x"]), 10, shuffle=True, seed=1, epoch=2,
                         drop_last=True)
    assert len(dropped) == len(loader) == 10
    same = split.epoch(10, order_seed=derived_seed(1, 2, 0), augmentation_seed=lambda b: b, drop_last=True)
    assert [y.tolist() for _, y in same] == [y.tolist() for _, y in loader]


def test_ranks_take_the_samplers_shards():
    source = indexed_source(21)
    split = DeviceSplit(source, range(21), CPU)
    shards = [torch.cat([y for _, y in split.epoch(2, order_seed=3, augmentation_seed=lambda b: b,
                                                   drop_last=False, rank=rank, world_size=2)])
              for rank in range(2)]
    assert len(shards[0]) == len(shards[1]) == 11  # 21 padded to 22 by wrapping around
    assert set(shards[0].tolist()) | set(shards[1].tolist()) == set(range(21))
    assert len(set(shards[0].tolist()) & set(shards[1].tolist())) == 1  # the one wrapped-around image
    loaders = [make_loader(TensorImages(source.images, source.labels, ["x"]), 2, shuffle=True, seed=0, epoch=0,
                           rank=rank, world_size=2) for rank in range(2)]
    for rank, loader in enumerate(loaders):
        same = split.epoch(2, order_seed=derived_seed(0, 0, 0), augmentation_seed=lambda b: b, drop_last=False,
                           rank=rank, world_size=2)
        assert [y.tolist() for _, y in same] == [y.tolist() for _, y in loader]


def test_a_batch_is_a_function_of_seed_and_step():
    source = indexed_source(50, padding=1, flip=True, cutout=2)

    def batches(start, seed=4):
        split = DeviceSplit(source, range(50), CPU)  # a fresh split: no state carried between calls
        return cycling_device_batches(split, 8, seed=seed, start=start,
                                      augmentation_seed=lambda step: 1000 + step)

    from_start = batches(0)
    drawn = [next(from_start) for _ in range(15)]  # 6 per pass: into the third pass
    for step in (0, 5, 6, 13):
        x, y = next(batches(step))
        assert torch.equal(x, drawn[step][0]) and torch.equal(y, drawn[step][1]), step
    assert not torch.equal(drawn[0][0], next(batches(0, seed=5))[0])
    assert not torch.equal(drawn[1][1], drawn[7][1])  # each pass its own order


def test_on_fails_by_name_for_a_dataset_without_tensor_source():
    with pytest.raises(DatasetError, match="dataset 'folder' cannot be held on the device"):
        use_device_data("on", None, CPU, "folder")
    source = indexed_source(4)
    assert use_device_data("on", source, CPU, "x")
    assert not use_device_data("auto", source, CPU, "x")  # auto is on for CUDA only
    assert not use_device_data("off", source, CPU, "x")


@pytest.mark.slow
def test_search_with_data_on_device_resumes_exactly(tmp_path):
    config = tiny_config(data_on_device="on", cutout=2, epochs=2)
    full, cut = tmp_path / "full", tmp_path / "cut"
    result = run_search(config, full, hooks=load_plugins())
    shutil.copytree(full, cut)
    checkpoint_paths(cut)[1].unlink()
    (cut / "genotype.json").unlink()
    resumed = run_search(config, cut, resume_from=checkpoint_paths(cut)[0], hooks=load_plugins())
    assert resumed.genotype == result.genotype
    assert history_without_times(cut) == history_without_times(full)
    # the device path ran (other augmentation numbers than the DataLoader path's)
    host = run_search(attrs.evolve(config, data_on_device="off"), tmp_path / "host", hooks=load_plugins())
    assert history_without_times(tmp_path / "host") != history_without_times(full)
    assert host.history[0]["steps"] == result.history[0]["steps"]


def test_config_records_the_setting():
    assert SearchConfig(space="s", controller="c").data_on_device == "auto"
    with pytest.raises(RunError, match="data_on_device"):
        SearchConfig(space="s", controller="c", data_on_device="always")
