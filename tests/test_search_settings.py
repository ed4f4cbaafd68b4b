"""The engine settings recipes need: the search split by count, the [-1, 1] normalisation."""

import pytest
import torch

from nasplug.data import DatasetError, split_indices, split_off
from nasplug.plugin import load_plugins
from nasplug.testing.cifar import write_cifar10


def test_the_search_split_can_be_a_count_of_images():
    train, search = split_off(50, 5, seed=2)
    assert len(search) == 5 and sorted(train + search) == list(range(50))
    # the same permutation as the fractional split: a count of n/2 is the fraction 0.5
    assert split_off(50, 25, seed=2) == split_indices(50, 0.5, seed=2)
    with pytest.raises(DatasetError, match="between 1 and 49 of the 50"):
        split_off(50, 50, seed=2)


def test_symmetric_normalisation_maps_pixels_onto_minus_one_one(tmp_path):
    write_cifar10(tmp_path, per_batch=4)
    hooks = load_plugins()
    bundle = hooks.load_dataset("cifar10", tmp_path, augment=False, normalisation="symmetric", download=False)
    image, _ = bundle.test[0]
    raw = bundle.test.images[0].float()
    assert torch.allclose(image, raw / 127.5 - 1, atol=1e-6)
    with pytest.raises(DatasetError, match="unknown normalisation 'unit'"):
        hooks.load_dataset("cifar10", tmp_path, normalisation="unit", download=False)
    with pytest.raises(DatasetError, match="applies to CIFAR and ImageNet"):
        hooks.load_dataset("digits", normalisation="symmetric")


def test_a_search_can_run_on_resized_images_with_nesterov_momentum(tmp_path):
    """``input_size`` (a cheaper proxy, e.g. NAS-Bench-201 at 16×16 on a CPU) and ``nesterov`` (its search
    protocol) reach the data and the weight optimiser."""
    from nasplug.runs.progress import Progress
    from nasplug.search import SearchConfig, SearchEngine

    write_cifar10(tmp_path / "data", per_batch=8)
    config = SearchConfig(space="darts-cell", controller="random", dataset="cifar10",
                          data_dir=str(tmp_path / "data"), input_size=16, nesterov=True, batch_size=8,
                          space_options={"layers": 2, "channels": 4}, device="cpu")
    engine = SearchEngine(config, tmp_path / "run", load_plugins(), Progress(False))
    assert engine.data.shape.input_size == 16
    image, _ = engine.data.train_plain[0]
    assert image.shape == (3, 16, 16)
    assert engine.optimizer.defaults["nesterov"] is True
    with pytest.raises(Exception, match="input_size"):
        SearchConfig(space="darts-cell", controller="random", input_size=0)
