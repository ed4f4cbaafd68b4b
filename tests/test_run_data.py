"""A run folder's data travels with it: train, info and export of a digits search use digits (issue 26, items
1-3 and 7), and an exported network carries everything needed to use it without nasplug."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch
from click.testing import CliRunner
from torch.utils.data import Dataset

from nasplug import api
from nasplug.cli import main
from nasplug.core.errors import NasplugError
from nasplug.data.digits import load_digits
from nasplug.plugin import load_plugins

pytestmark = pytest.mark.slow

HOOKS = load_plugins()
TINY_NET = ["--layers", "3", "--channels", "8", "--auxiliary-weight", "0"]


def cli(*args):
    result = CliRunner().invoke(main, [str(arg) for arg in args])
    return result


@pytest.fixture(scope="module")
def search_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("search") / "run"
    result = cli("run", "--space", "darts-cell", "--controller", "mdenas", "--dataset", "digits", "--layers", "3",
                 "--channels", "4", "--epochs", "1", "--batch-size", "128", "--no-eval-derived", "--quiet",
                 "--out", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def trained(search_run, tmp_path_factory):
    """`nasplug train RUN` with no --dataset: a digits search retrains on digits."""
    out = tmp_path_factory.mktemp("train") / "train"
    result = cli("train", "--genotype", search_run, *TINY_NET, "--epochs", "4", "--quiet", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_train_of_a_search_run_trains_on_the_runs_dataset(trained):
    config = json.loads((trained / "config.json").read_text())
    assert config["dataset"] == "digits"
    assert config["network_options"]["layers"] == 3
    results = json.loads((trained / "results.json").read_text())
    assert results["top1"] > 0.8  # it learned digits: 8x8 grey images, ten classes
    kept = json.loads((trained / "preprocessing.json").read_text())
    assert results["preprocessing"] == kept and kept["pixel_scale"] == 16 and len(kept["classes"]) == 10


def test_another_dataset_asked_for_wins_over_the_runs(search_run):
    assert api.train_config(search_run, dataset="cifar10").dataset == "cifar10"
    assert api.train_config(search_run).dataset == "digits"


def test_a_searchs_input_size_does_not_travel_a_trainings_does(search_run, trained, tmp_path):
    # A search at a reduced --input-size (a proxy): the network it found trains at the dataset's shape.
    import shutil

    from nasplug.runs.origin import run_origin

    reduced = tmp_path / "reduced"
    shutil.copytree(search_run, reduced)
    config = json.loads((reduced / "config.json").read_text())
    (reduced / "config.json").write_text(json.dumps({**config, "input_size": 16}))
    assert api.train_config(reduced).input_size is None
    assert api.train_config(reduced, input_size=16).input_size == 16
    assert run_origin(reduced).data_settings(None) == {"dataset": "digits", "data_dir": None}
    assert run_origin(trained).data_settings(None)["input_size"] is None  # a training's own size travels
    shown = []
    api._say_taken_from_run(type("P", (), {"message": lambda self, text: shown.append(text)})(), str(reduced),
                            {}, api.train_config(reduced))
    assert shown == [f"from the run {reduced}: dataset=digits"]


def test_info_sizes_the_network_train_would_build(search_run):
    result = cli("info", "--genotype", search_run)
    assert result.exit_code == 0, result.output
    assert "layers=8, channels=16" in result.output and "digits 8x8, 10 classes" in result.output
    assert f"from the run {search_run}: dataset=digits" in result.output
    expected = api.info(search_run / "genotype.json", dataset="digits", options={"layers": 8, "channels": 16})
    assert f"{expected.parameters / 1e6:.6f} M" in result.output


def test_export_of_a_search_run_refuses_untrained_weights_unless_asked(search_run, tmp_path):
    refused = cli("export", search_run, "--format", "pt2", "--out", tmp_path / "net.pt2")
    assert refused.exit_code == 1 and "no trained weights" in refused.output and "--untrained" in refused.output
    assert len(refused.output.strip().splitlines()) == 1 and not (tmp_path / "net.pt2").exists()
    done = cli("export", search_run, "--untrained", "--format", "safetensors", "--out", tmp_path / "net.safetensors")
    assert done.exit_code == 0, done.output
    assert "1x8x8 input" in done.output and "UNTRAINED" in done.output
    from safetensors import safe_open

    with safe_open(str(tmp_path / "net.safetensors"), framework="pt") as handle:
        meta = handle.metadata()
    assert meta["trained"] == "false" and meta["dataset"] == "digits"
    assert json.loads(meta["network_options"])["layers"] == 8


# A process in which nasplug cannot be imported: it reads the export's own record of the preprocessing
# and the classes, prepares sklearn's raw digits (0..16 counts) with it and classifies them.
STANDALONE = textwrap.dedent("""
    import importlib.abc, json, sys

    class NoNasplug(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "nasplug" or name.startswith("nasplug_"):
                raise ImportError("nasplug is not available here")

    sys.meta_path.insert(0, NoNasplug())
    import numpy, torch
    from sklearn.datasets import load_digits
    torch.set_num_threads(1)
    fmt, path = sys.argv[1], sys.argv[2]
    if fmt == "pt2":
        meta = json.load(open(path[:-len(".pt2")] + ".json"))
        prep = meta["preprocessing"]
        run = lambda x: torch.export.load(path).module()(torch.from_numpy(x)).detach().numpy()
    else:
        import onnx, onnxruntime
        model = onnx.load(path)
        meta = {entry.key: entry.value for entry in model.metadata_props}
        prep = json.loads(meta["preprocessing"])
        assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        run = lambda x: session.run(None, {"images": x})[0]
    assert meta["trained"] == "true" and prep["channel_order"] == "L"
    raw = load_digits()
    size = prep["input_size"]
    assert raw.images.shape[1:] == (size, size) == (prep["resize_shorter_side"],) * 2
    x = (raw.images / prep["pixel_scale"] - prep["mean"][0]) / prep["std"][0]
    predicted = run(x[:, None].astype(numpy.float32)).argmax(1)
    names = [prep["classes"][p] for p in predicted]
    accuracy = numpy.mean([name == str(target) for name, target in zip(names, raw.target)])
    assert "nasplug" not in sys.modules
    print(json.dumps({"accuracy": float(accuracy), "predicted": predicted.tolist()}))
""")


@pytest.mark.parametrize("fmt", ["pt2", "onnx"])
def test_an_exported_digits_model_classifies_digits_without_nasplug(trained, fmt, tmp_path):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnxscript")
    path = tmp_path / f"net.{fmt}"
    done = cli("export", trained, "--format", fmt, "--out", path)
    assert done.exit_code == 0, done.output
    child = subprocess.run([sys.executable, "-I", "-c", STANDALONE, fmt, str(path)], capture_output=True,
                           text=True, timeout=300, cwd=tmp_path)
    assert child.returncode == 0, child.stderr
    answer = json.loads(child.stdout)
    # nasplug's own pipeline on the same 1797 images gives the same predictions
    from nasplug.train.trained import trained_network

    bundle = load_digits(augment=False, cutout=0, input_size=None)
    images = torch.cat([bundle.train.images, bundle.test.images])
    order = _original_order()
    module = trained_network(trained, HOOKS).module.eval()
    with torch.no_grad():
        logits = module(images)[order]
    # The same class wherever torch's top two are apart; a near tie (top-2 margin < 1e-4) may round
    # either way in another runtime's float arithmetic.
    top2 = logits.topk(2, dim=1).values
    decided = (top2[:, 0] - top2[:, 1]) >= 1e-4
    predicted = torch.tensor(answer["predicted"])
    assert torch.equal(predicted[decided], logits.argmax(1)[decided])
    assert decided.float().mean() > 0.99  # the tolerance excuses a handful of images at most
    assert answer["accuracy"] > 0.8


def _original_order():
    """Where each of sklearn's images sits in load_digits' train-then-test order."""
    import numpy
    from sklearn.datasets import load_digits as uci

    from nasplug.data.digits import SPLIT_SEED, TEST_FRACTION, stratified_split

    train_index, test_index = stratified_split(uci().target, TEST_FRACTION, SPLIT_SEED)
    return torch.from_numpy(numpy.argsort(numpy.array(train_index + test_index)))


class Pairs(Dataset):
    """A user's own dataset: (1×8×8 tensor, label) items and a `classes` attribute."""

    def __init__(self, images, labels):
        self.images, self.labels, self.classes = images, labels, [str(d) for d in range(10)]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.images[index], int(self.labels[index])


def test_api_trains_and_sizes_a_network_for_a_users_own_data(search_run, tmp_path):
    bundle = load_digits(augment=False, cutout=0, input_size=None)
    train = Pairs(bundle.train.images[:256], bundle.train.labels[:256])
    test = Pairs(bundle.test.images[:128], bundle.test.labels[:128])
    with pytest.raises(NasplugError, match="needs a test split"):
        api.train(search_run, data=train, progress=False)
    result = api.train(search_run, data=(train, test), out=tmp_path / "own", progress=False, epochs=1,
                       layers=3, channels=4, auxiliary_weight=0.0, batch_size=64)
    config = json.loads((tmp_path / "own" / "config.json").read_text())
    assert config["dataset"] == "Pairs" and 0 <= result.top1 <= 1
    assert api.train_config(search_run, data=(train, test)).dataset == "Pairs"  # train's data, as train takes it
    # `info` for the same data sizes the network `train` would build for it (the CIFAR protocol: <= 64 px)
    cost = api.info(search_run, data=train)
    assert cost.parameters == api.info(search_run / "genotype.json", dataset="digits",
                                       options={"layers": 20, "channels": 36}).parameters
    assert api.info(search_run, data=train, options={"layers": 3, "channels": 4}).parameters \
        == result.cost.parameters
