"""One plugin manager per run: what is registered on the caller's Hooks is what a run loads, and every
call into a plugin's code is guarded the same way."""

import pytest
import torch

import nasplug
from nasplug.core.space import DataShape
from nasplug.data import DataBundle, DatasetError, DatasetInfo, TensorImages
from nasplug.networks.build import build_network
from nasplug.plugin import PluginError, Provider, load_plugins

SHAPE = DataShape(num_classes=2, in_channels=1, input_size=8)


class Stripes:
    """A dataset only this run's manager knows; no nominal shape, so its shape comes from loading it."""

    def __init__(self):
        self.loads = []

    @nasplug.hookimpl
    def list_datasets(self):
        return {"stripes": DatasetInfo("stripes, registered through the Python API")}

    @nasplug.hookimpl
    def build_dataset(self, name, data_dir, options):
        if name != "stripes":
            return None
        self.loads.append(options)
        rows = (torch.arange(8) % 2).float().view(1, 8, 1).expand(1, 8, 8)
        images = torch.stack([rows, rows.transpose(1, 2)] * 4)
        sets = TensorImages(images, torch.tensor([0, 1] * 4), ["horizontal", "vertical"])
        return DataBundle("stripes", sets, sets, SHAPE)


def run_hooks(plugin):
    hooks = load_plugins(load_entry_points=False)
    hooks.add_plugin(plugin, "stripes-plugin", Provider("stripes-plugin", "my-project", "0.1"))
    return hooks


def test_a_dataset_registered_on_the_runs_manager_is_the_one_that_loads():
    stripes = Stripes()
    hooks = run_hooks(stripes)
    bundle = hooks.load_dataset("stripes", augment=False, input_size=8)
    assert (bundle.name, bundle.shape) == ("stripes", SHAPE)
    assert stripes.loads[-1].augment is False and stripes.loads[-1].input_size == 8
    assert hooks.dataset_shape("stripes") == SHAPE
    with pytest.raises(DatasetError, match="unknown dataset 'stripes'"):
        load_plugins(load_entry_points=False).dataset_shape("stripes")  # another manager does not know it


def test_build_network_takes_its_data_shape_from_the_callers_manager():
    stripes = Stripes()
    built = build_network("DARTS_V2", dataset="stripes", options={"layers": 3, "channels": 4, "auxiliary": False},
                          hooks=run_hooks(stripes))
    assert (built.dataset, built.data) == ("stripes", SHAPE)
    assert len(stripes.loads) == 1  # loaded once, on the run's manager, for its shape
    assert built.module.eval()(torch.zeros(2, 1, 8, 8)).shape == (2, 2)  # two classes, one channel


def test_dataset_options_are_checked_before_any_plugin_is_called():
    stripes = Stripes()
    hooks = run_hooks(stripes)
    for options, message in (({"cutout": -1}, "cannot be negative"), ({"augment": False, "cutout": 4}, "needs "
                             "augmentation"), ({"input_size": 0}, "positive"), ({"normalisation": "unit"},
                                                                                  "unknown normalisation")):
        with pytest.raises(DatasetError, match=message):
            hooks.load_dataset("stripes", **options)
    assert stripes.loads == []


class ListsBadly:
    @nasplug.hookimpl
    def list_datasets(self):
        raise ValueError("no listing today")


class ListsAList:
    @nasplug.hookimpl
    def list_datasets(self):
        return ["stripes"]


class BuildsBadly(Stripes):
    @nasplug.hookimpl
    def build_dataset(self, name, data_dir, options):
        if name == "stripes":
            raise OSError("disk on fire")
        return None


@pytest.mark.parametrize("plugin, message", [
    (ListsBadly(), "plugin 'stripes-plugin' (my-project 0.1) failed in list_datasets: ValueError: no listing today"),
    (ListsAList(), "plugin 'stripes-plugin' (my-project 0.1): list_datasets returned a list (['stripes']), "
                   "expected a dict of name -> DatasetInfo"),
])
def test_a_failing_dataset_listing_is_one_line_naming_the_plugin(plugin, message):
    hooks = run_hooks(plugin)
    with pytest.raises(PluginError) as failed:
        hooks.datasets()
    assert str(failed.value) == message


def test_a_failing_build_dataset_is_blamed_on_its_plugin():
    hooks = run_hooks(BuildsBadly())
    with pytest.raises(PluginError) as failed:
        hooks.load_dataset("stripes")
    assert str(failed.value) == ("plugin 'stripes-plugin' (my-project 0.1) failed in build_dataset: "
                                 "OSError: disk on fire")
    assert hooks.load_dataset("digits", augment=False).name == "digits"  # the built-ins still load


def test_a_plugin_that_fails_to_register_leaves_the_manager_as_it_was():
    class Misspelled:
        @nasplug.hookimpl
        def list_dataset(self):
            return {}

    hooks = load_plugins(load_entry_points=False)
    with pytest.raises(PluginError, match="plugin 'typo' .* implements an unknown hook"):
        hooks.add_plugin(Misspelled(), "typo")
    assert hooks.pm.get_plugin("typo") is None and "typo" not in hooks.providers


def registered_names(hooks):
    return {name for name, _ in hooks.pm.list_name_plugin()}


@pytest.mark.slow
def test_the_python_api_searches_a_dataset_registered_on_the_callers_manager_and_hands_it_back(tmp_path):
    """The regression behind #23: the check and the load used different managers. And one manager serves
    several runs: each run's controller and loggers leave with it, even when the run is refused."""
    from nasplug import api

    stripes = Stripes()
    hooks = run_hooks(stripes)
    before = registered_names(hooks)
    tiny = dict(dataset="stripes", epochs=1, batch_size=2, layers=2, channels=4, progress=False, hooks=hooks)
    with pytest.raises(nasplug.NasplugError, match="batch size 100"):
        api.search("darts-cell", "random", **{**tiny, "batch_size": 100}, out=tmp_path / "refused", loggers="csv")
    assert registered_names(hooks) == before
    for name in ("a", "b"):
        result = api.search("darts-cell", "random", **tiny, out=tmp_path / name, loggers="csv")
        assert result.history[0]["epoch"] == 1 and (tmp_path / name / "history.csv").is_file()
        assert registered_names(hooks) == before
    assert len(stripes.loads) == 3 and all(options.augment for options in stripes.loads)


def test_a_manager_holds_one_controller_at_a_time():
    from nasplug.controllers.random import RandomController
    from nasplug.testing import tiny_space

    hooks = load_plugins(load_entry_points=False)
    space = tiny_space()
    hooks.add_controller(RandomController(space, {}, 0), "random")
    with pytest.raises(PluginError, match="already holds 'controller random'") as refused:
        hooks.add_controller(RandomController(space, {}, 1), "other")
    assert "\n" not in str(refused.value)
