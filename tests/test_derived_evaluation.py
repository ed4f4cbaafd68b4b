"""The epoch end's evaluation of an architecture on the search split: plain images, large batches, one number."""

import torch

from nasplug import Architecture
from nasplug.data import DataBundle, load_dataset, with_transform
from nasplug.data.user import as_bundle
from nasplug.plugins import load_plugins
from nasplug.progress import Progress
from nasplug.ranking import sample_architectures
from nasplug.search import SearchConfig, SearchEngine, evaluation_batch_size


def test_evaluation_batches_are_few_and_near_equal():
    assert evaluation_batch_size(719, 32) == 240  # 240, 240, 239: no batch of a few left-over images
    assert evaluation_batch_size(256, 32) == 256
    assert evaluation_batch_size(257, 32) == 129  # 129 + 128, not 256 + 1
    assert evaluation_batch_size(100, 512) == 100
    assert evaluation_batch_size(1000, 512) == 500  # a run batch above 256 is the limit instead
    assert evaluation_batch_size(3, 32) == 3


def _engine(tmp_path, name: str, data: DataBundle | None = None, **settings) -> SearchEngine:
    config = SearchConfig(space="darts-cell", controller="random", epochs=1, batch_size=32, device="cpu",
                          space_options={"layers": 2, "channels": 4}, **settings)
    torch.manual_seed(0)
    return SearchEngine(config, tmp_path / name, load_plugins(), Progress(False), data=data)


def _architectures(engine: SearchEngine) -> list[Architecture]:
    return sample_architectures(engine.space, 3, torch.Generator().manual_seed(1))


def _scores(engine: SearchEngine, architectures: list[Architecture]) -> list[float]:
    return [engine._evaluate(arch) for arch in architectures]


def test_the_training_augmentation_does_not_reach_the_evaluation(tmp_path):
    digits = load_dataset("digits")
    # An augmentation that destroys every image: were it applied, the scores would change between calls.
    noisy = with_transform(digits.train, lambda image: image + 3 * torch.randn_like(image))
    plain = _engine(tmp_path, "plain", data=DataBundle("digits", digits.train_plain, digits.test, digits.shape))
    augmented = _engine(tmp_path, "noisy", data=DataBundle("digits", noisy, digits.test, digits.shape,
                                                          train_plain=digits.train_plain))
    augmented.supernet.load_state_dict(plain.supernet.state_dict())
    architectures = _architectures(plain)
    expected = _scores(plain, architectures)
    assert _scores(augmented, architectures) == expected == _scores(augmented, architectures)
    assert len(set(expected)) > 1  # the architectures are told apart, not all at chance alike


def test_data_on_the_device_is_evaluated_as_through_the_loader(tmp_path):
    loader = _engine(tmp_path, "loader", data_on_device="off")
    device = _engine(tmp_path, "device", data_on_device="on")
    assert loader.device_search is None and device.device_search is not None
    device.supernet.load_state_dict(loader.supernet.state_dict())
    architectures = _architectures(loader)
    assert _scores(device, architectures) == _scores(loader, architectures)


def test_a_dataset_without_a_plain_view_is_evaluated_as_given(tmp_path):
    digits = load_dataset("digits", augment=False)
    engine = _engine(tmp_path, "user", data=as_bundle(digits.train, num_classes=10))
    assert engine.data.train_plain is None
    architectures = _architectures(engine)
    first = _scores(engine, architectures)
    assert first == _scores(engine, architectures) and all(0 <= score <= 1 for score in first)
