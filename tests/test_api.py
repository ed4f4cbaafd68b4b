"""The Python API: the CLI's defaults and checks, a controller class or instance, a user's own dataset."""

import inspect
import json
import re
import shutil
from pathlib import Path

import attrs
import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

import nasplug
from nasplug import api
from nasplug.controllers.random import RandomController
from nasplug.cli import main
from nasplug.runs.checkpoint import load_checkpoint
from nasplug.core.errors import NasplugError
from nasplug.core.options import OptionError
from nasplug.runs.settings import field_default
from nasplug.data import DatasetError
from nasplug.plugin import load_plugins
from nasplug.search import SearchConfig
from nasplug.search.defaults import DATASET_DEFAULTS
from nasplug.search.settings import SEARCH_SETTINGS
from nasplug.train import TrainConfig
from nasplug.train.settings import TRAIN_SETTINGS

DOCS = Path(__file__).resolve().parent.parent / "docs"
TINY = {"layers": 3, "channels": 4, "epochs": 2, "batch_size": 32, "device": "cpu", "progress": False}


class FirstChoice(nasplug.Controller):
    """Not installed anywhere: always choice 0, derives choice ``pick`` (counts its steps for the state)."""

    options = {"pick": nasplug.Option(int, 1, "index the genotype takes")}

    def __init__(self, space, options, seed):
        super().__init__(space, options, seed)
        self.steps = 0

    @nasplug.hookimpl
    def sample_architecture(self, space):
        self.steps += 1
        return [nasplug.Architecture.single_path({d.key: 0 for d in space.decisions()})]

    @nasplug.hookimpl
    def derive_genotype(self, space):
        pick = self.config["pick"]
        return space.genotype_from_scores({d.key: [float(i == pick) for i in range(len(d))]
                                           for d in space.decisions()})

    def state_dict(self):
        return {**super().state_dict(), "steps": self.steps}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.steps = state["steps"]


def test_search_config_has_the_cli_defaults():
    digits = api.search_config("darts-cell", "mdenas")
    recipe = DATASET_DEFAULTS["digits"]
    assert (digits.epochs, digits.batch_size) == (recipe["epochs"], recipe["batch_size"]) == (60, 32)
    assert digits.space_options == {"layers": "3", "channels": "32"}
    cifar = api.search_config("darts-cell", "mdenas", dataset="cifar10", options={"alpha": "0.02"})
    assert (cifar.epochs, cifar.batch_size, cifar.space_options) == (50, 64, {})
    assert cifar.controller_options == {"alpha": "0.02"}


def test_search_and_train_take_the_same_shape_of_arguments():
    def keywords(function):
        parameters = inspect.signature(function).parameters.values()
        return {p.name for p in parameters if p.kind is p.KEYWORD_ONLY}, [p.kind for p in parameters][-1]

    shared = {"recipe", "out", "options", "progress", "threads", "hooks", "loggers"}
    for run, resume, config in ((api.search, api.resume_search, api.search_config),
                                (api.train, api.resume_training, api.train_config)):
        assert keywords(run)[0] >= shared and keywords(run)[1] is inspect.Parameter.VAR_KEYWORD
        assert keywords(resume)[0] >= {"progress", "threads", "hooks", "loggers"}
        assert keywords(config)[0] >= {"recipe", "options", "hooks"}
        assert keywords(config)[1] is inspect.Parameter.VAR_KEYWORD


@pytest.mark.parametrize(
    "function, table, config",
    [(api.search, SEARCH_SETTINGS, SearchConfig), (api.train, TRAIN_SETTINGS, TrainConfig)],
)
def test_each_setting_is_declared_once_for_the_api_and_the_command_line(function, table, config):
    command = main.commands[function.__name__.replace("search", "run")]
    flags = {param.name: param for param in command.params}
    for setting in table:
        declared = field_default(config, setting.field) if setting.field is not None else attrs.NOTHING
        if setting.default is not None and declared is not attrs.NOTHING:
            assert setting.default == declared, setting.name
        assert flags[setting.name].default == setting.default and flags[setting.name].help == setting.help


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: api.search("darts-cell", "random", epoch=3),
         "search() got unknown keyword epoch; it accepts: space, controller, recipe, data, out,"),
        (lambda: api.train("DARTS_V2", drop_paths=0.1),
         "train() got unknown keyword drop_paths; it accepts: genotype, recipe, space, data, out,"),
        (lambda: api.search_config("darts-cell", "random", epochs="3"),
         "keyword epochs expects int, got '3'"),
        (lambda: api.train_config("DARTS_V2", lr=True), "keyword lr expects float, got True"),
    ],
)
def test_an_unknown_or_mistyped_setting_is_one_line_listing_the_accepted_ones(call, fragment):
    with pytest.raises(NasplugError) as error:
        call()
    assert fragment in str(error.value) and "\n" not in str(error.value)


def test_a_relative_data_dir_is_recorded_absolute_so_it_travels_with_the_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = api.search_config("darts-cell", "random", dataset="digits", data_dir="data")
    assert config.data_dir == str(tmp_path / "data")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(config.to_json()))
    darts = load_plugins().space_entry("darts-cell").cls.published_genotypes()["DARTS_V2"]
    (run / "genotype.json").write_text(json.dumps(darts.to_json()))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # `nasplug train RUN` from another folder reads the same data folder
    assert api.train_config(run).data_dir == str(tmp_path / "data")


def test_train_config_takes_the_cli_defaults_and_the_settings_by_name():
    config = api.train_config("DARTS_V2", dataset="digits", workers=2, layers=3, data_dir=Path("data"))
    assert (config.dataset, config.num_workers, config.data_dir) == ("digits", 2, str(Path("data").absolute()))
    assert config.network_options["layers"] == 3
    assert api.train_config("DARTS_V2").dataset == "cifar10"


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        ({"dataset": "mnist"}, DatasetError, "unknown dataset 'mnist'"),
        ({"options": {"alpha": "abc"}}, OptionError, "option 'alpha' expects float, got 'abc'"),
        ({"options": {"beta": 1}}, OptionError, "unknown option 'beta'"),
        ({"controller": object()}, NasplugError, "a controller must be a name, a nasplug.Controller"),
    ],
)
def test_bad_input_is_refused_before_anything_is_loaded_or_written(tmp_path, kwargs, error, fragment):
    arguments = {"controller": "mdenas", **kwargs}
    with pytest.raises(error, match=re.escape(fragment)):
        api.search("darts-cell", out=tmp_path / "run", **arguments)
    assert not (tmp_path / "run").exists()


def test_a_non_empty_run_directory_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "genotype.json").write_text("precious")
    with pytest.raises(NasplugError, match=r"exists and is not empty; choose another out= or continue it "
                                           r"with nasplug.api.resume_search\("):
        api.search("darts-cell", "random", out=tmp_path / "run", **TINY)
    assert (tmp_path / "run" / "genotype.json").read_text() == "precious"


@pytest.mark.slow
def test_an_uninstalled_class_searches_and_resumes_exactly(tmp_path):
    full = api.search("darts-cell", FirstChoice, out=tmp_path / "full", options={"pick": 2}, **TINY)
    config = json.loads((full.run_dir / "config.json").read_text())
    assert config["controller"] == f"{__name__}:FirstChoice" and config["controller_options"] == {"pick": 2}
    assert {op for op, _ in full.genotype.normal} == {"avg_pool_3x3"}  # choice 2 in DARTS order

    cut = tmp_path / "cut"
    shutil.copytree(full.run_dir, cut)
    (cut / "checkpoints" / "epoch-0002.pt").unlink()
    with pytest.raises(NasplugError, match="was searched with controller"):
        api.resume_search(cut, controller=RandomController)
    resumed = api.resume_search(cut, controller=FirstChoice, progress=False)
    strip = [{k: v for k, v in record.items() if k != "seconds"} for record in full.history]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in resumed.history] == strip
    def steps(run_dir):
        return load_checkpoint(run_dir / "checkpoints" / "epoch-0002.pt")["controller"]["steps"]

    assert steps(cut) == steps(full.run_dir) > 0


@pytest.mark.slow
def test_an_instance_is_used_as_given_and_named_by_its_entry_point(tmp_path):
    hooks = load_plugins()
    digits = hooks.load_dataset("digits")
    space = hooks.build_space("darts-cell", digits.shape, {"layers": 3, "channels": 4})
    controller = RandomController(space, {"derive": "random"}, seed=11)
    state = controller.generator.get_state()
    result = api.search("darts-cell", controller, data=digits, out=tmp_path / "run", epochs=1,
                        device="cpu", progress=False, hooks=hooks)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["controller"] == "random" and config["controller_options"] == {"derive": "random"}
    assert config["space_options"]["layers"] == 3 and config["dataset"] == "digits"
    assert not torch.equal(controller.generator.get_state(), state)  # this very object sampled the search
    assert result.genotype is not None
    with pytest.raises(OptionError, match="brings its own options"):
        api.search("darts-cell", controller, data=digits, out=tmp_path / "again", layers=3)
    other = hooks.build_space("darts-cell", digits.shape, {"layers": 4, "channels": 4})
    with pytest.raises(NasplugError, match="the controller instance was built for space"):
        api.search("darts-cell", RandomController(other, {"derive": "random"}, 0),
                   data=hooks.load_dataset("digits", input_size=16), out=tmp_path / "shape", epochs=1)


def test_a_users_dataset_needs_square_images_and_a_class_count(tmp_path):
    flat = TensorDataset(torch.zeros(8, 1, 8, 6), torch.zeros(8, dtype=torch.long))
    with pytest.raises(DatasetError, match=r"must be square C×H×W tensors, got \(1, 8, 6\)"):
        api.search("darts-cell", "random", data=flat, out=tmp_path / "a")
    square = TensorDataset(torch.zeros(8, 1, 8, 8), torch.zeros(8, dtype=torch.long))
    with pytest.raises(DatasetError, match="cannot tell how many classes the TensorDataset dataset has"):
        api.search("darts-cell", "random", data=square, out=tmp_path / "b")

    class Broken(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, index):
            raise KeyError(index)

    with pytest.raises(DatasetError, match="cannot read item 0 of the Broken dataset"):
        api.search("darts-cell", "random", data=Broken(), out=tmp_path / "c")


def test_show_and_info_match_the_commands():
    text = api.show("DARTS_V2", space="darts-cell")
    assert "sep_conv_3x3" in text
    cost = api.info("DARTS_V2", space="darts-cell", options={"layers": 20, "channels": 36})
    assert 3.2e6 < cost.parameters < 3.4e6  # DARTS (V2) reports 3.3 M parameters on CIFAR-10


@pytest.mark.slow
def test_the_documented_examples_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / "python-api.md").read_text(), re.S)
    assert blocks and blocks[0].startswith("# example: search on your own dataset")
    monkeypatch.chdir(tmp_path)
    for block in blocks:  # each example stands alone: its own imports, a fresh namespace
        namespace: dict = {"__name__": "python_api_example"}
        exec(compile(block, "docs/python-api.md", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "derived architecture's search accuracy:" in printed and "node 2" in printed
    assert "test accuracy of the retrained network:" in printed
    assert json.loads((tmp_path / "runs/stripes-train/config.json").read_text())["dataset"] == "Stripes"
    assert json.loads((tmp_path / "runs/stripes/config.json").read_text())["dataset"] == "Stripes"
    assert json.loads((tmp_path / "runs/instance/config.json").read_text())["controller"] == "mdenas"
    assert namespace["result"].run_dir == Path("runs/instance")
