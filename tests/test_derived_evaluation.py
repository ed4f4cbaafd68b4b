"""The epoch end's evaluation of an architecture on the search split: plain images, large batches, one number."""

import pytest
import torch
from test_folder_dataset import write_folder

from nasplug import Architecture
from nasplug.data import DataBundle, TensorImages, with_transform
from nasplug.data.user import as_bundle
from nasplug.plugin import load_plugins
from nasplug.runs.progress import Progress
from nasplug.train.ranking import sample_architectures
from nasplug.search import SearchConfig, SearchEngine, evaluation_batch_size
from nasplug.testing.cifar import write_cifar10


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
    return [engine.evaluate(arch) for arch in architectures]


def test_the_training_augmentation_does_not_reach_the_evaluation(tmp_path):
    digits = load_plugins().load_dataset("digits")
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
    assert loader.batches.device_search is None and device.batches.device_search is not None
    device.supernet.load_state_dict(loader.supernet.state_dict())
    architectures = _architectures(loader)
    assert _scores(device, architectures) == _scores(loader, architectures)


def test_the_split_is_evaluated_in_few_near_equal_batches(tmp_path):
    for setting in ("off", "on"):
        engine = _engine(tmp_path, setting, data_on_device=setting)
        sizes: list[int] = []
        handle = engine.supernet.register_forward_pre_hook(lambda module, args: sizes.append(len(args[0])))
        engine.evaluate(_architectures(engine)[0])
        handle.remove()
        assert sizes == [240, 240, 239], setting  # the 719 search images of digits


@pytest.mark.parametrize("dataset, size", [("digits", None), ("folder", 8), ("folder", 80), ("imagenet", 80),
                                           ("cifar10", None)])
def test_every_builtin_dataset_gives_its_training_images_through_the_test_pipeline(tmp_path, dataset, size):
    if size is not None:
        write_folder(tmp_path, size=(size, size))
    else:
        write_cifar10(tmp_path)
    bundle = load_plugins().load_dataset(dataset, tmp_path, download=False)
    plain = bundle.train_plain
    assert len(plain) == len(bundle.train) and plain.transform is bundle.test.transform
    assert bundle.train.transform is not bundle.test.transform  # the training set itself stays augmented
    for index in (0, len(plain) - 1):
        image, label = plain[index]
        assert torch.equal(image, plain[index][0]) and label == bundle.train[index][1]


def test_with_transform_replaces_what_a_torchvision_set_applies():
    from torchvision.datasets.vision import VisionDataset

    class Pairs(VisionDataset):  # applies self.transforms, as torchvision's VOC or Places365 do
        def __getitem__(self, index):
            return self.transforms(torch.zeros(1, 2, 2), index)

        def __len__(self):
            return 1

    view = with_transform(Pairs("", transform=lambda image: image + 1), None)
    assert torch.equal(view[0][0], torch.zeros(1, 2, 2))
    with pytest.raises(TypeError, match="transform"):
        with_transform([1, 2], None)
    images = TensorImages(torch.zeros(2, 1, 2, 2), torch.tensor([0, 1]), ["a", "b"], lambda image: image + 1)
    assert torch.equal(with_transform(images, None)[1][0], torch.zeros(1, 2, 2)) and images[1][0].sum() == 4


def test_a_dataset_without_a_plain_view_is_evaluated_as_given(tmp_path):
    digits = load_plugins().load_dataset("digits", augment=False)
    # The user's transform blanks every image: read as given, every image gets the same prediction, so
    # an architecture's score is the share of one class in the search split.
    blank = with_transform(digits.train, torch.zeros_like)
    engine = _engine(tmp_path, "user", data=as_bundle(blank, num_classes=10))
    assert engine.data.train_plain is None
    labels = digits.train.labels[list(engine.batches.search_plain.indices)]
    shares = {count / len(labels) for count in torch.bincount(labels, minlength=10).tolist()}
    assert all(score in shares for score in _scores(engine, _architectures(engine)))
