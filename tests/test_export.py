"""Export round-trips: what `nasplug export` and `nasplug train` write loads without nasplug, same logits."""

import subprocess
import sys
import textwrap

import pytest
import torch
from click.testing import CliRunner

from nasplug import NasplugError
from nasplug.cli import main
from nasplug.plugin import load_plugins
from nasplug.networks.export import export_network
from nasplug.networks.weights import WeightsError, load_safetensors
from nasplug.train import TrainError
from nasplug.train.trained import network_for, trained_network
from nasplug.networks.build import build_network
from nasplug.train import train_network, training_config

pytestmark = pytest.mark.slow

TINY_DARTS = {"layers": 3, "channels": 4, "auxiliary": False}
HOOKS = load_plugins()  # the built-in spaces and datasets, looked up as a run looks them up

# Runs in a fresh interpreter in which any import of nasplug fails, as on a machine without it.
NO_NASPLUG = textwrap.dedent("""
    import importlib.abc, sys

    class NoNasplug(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "nasplug" or name.startswith("nasplug.") or name.startswith("nasplug_"):
                raise ImportError("nasplug is not available here")

    sys.meta_path.insert(0, NoNasplug())
    import numpy, torch
    torch.set_num_threads(1)
    x = torch.from_numpy(numpy.load(sys.argv[2]))
""")

LOADERS = {
    "pt2": "logits = torch.export.load(sys.argv[1]).module()(x).detach().numpy()",
    "onnx": "import onnxruntime\n"
            "session = onnxruntime.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n"
            "logits = session.run(None, {'images': x.numpy()})[0]",
}
SAVE = "\nassert 'nasplug' not in sys.modules\nnumpy.save(sys.argv[3], logits)\n"


def logits_without_nasplug(fmt, model_path, x, tmp_path):
    """The exported network's logits on ``x``, computed by a Python process that cannot import nasplug."""
    import numpy

    numpy.save(tmp_path / "x.npy", x.numpy())
    script = NO_NASPLUG + LOADERS[fmt] + SAVE
    done = subprocess.run([sys.executable, "-c", script, str(model_path), str(tmp_path / "x.npy"),
                           str(tmp_path / "logits.npy")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return torch.from_numpy(numpy.load(tmp_path / "logits.npy"))


def tiny_networks():
    torch.manual_seed(0)
    darts = build_network("DARTS_V2", dataset="digits", options=TINY_DARTS, hooks=HOOKS)
    proxyless = build_network("proxyless_gpu", dataset="digits", input_size=16, options={"width_mult": 0.25},
                              hooks=HOOKS)
    return {"darts-cell": darts, "proxyless-mbv2": proxyless}


@pytest.fixture(scope="module")
def networks():
    return tiny_networks()


@pytest.mark.parametrize("fmt", ["pt2", "onnx"])
@pytest.mark.parametrize("space", ["darts-cell", "proxyless-mbv2"])
def test_exported_network_gives_the_module_logits_without_nasplug(networks, space, fmt, tmp_path):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnxscript")
    built = networks[space]
    path = export_network(built, fmt, tmp_path / f"model.{fmt}")
    # A batch size other than the example's: the batch dimension is exported dynamic.
    x = torch.randn(5, built.data.in_channels, built.data.input_size, built.data.input_size)
    with torch.no_grad():
        expected = built.module.eval()(x)
    assert torch.allclose(logits_without_nasplug(fmt, path, x, tmp_path), expected, atol=1e-5)


def test_a_pt2_export_never_overwrites_a_json_unasked(tmp_path):
    from nasplug.networks.export import ExportError, refuse_export_overwrite

    with pytest.raises(ExportError, match="keeps its metadata in NAME.json"):
        refuse_export_overwrite("pt2", tmp_path / "model.json", force=True)
    (tmp_path / "net.json").write_text('{"mine": true}')
    with pytest.raises(NasplugError, match="net.json"):
        refuse_export_overwrite("pt2", tmp_path / "net.pt2", force=False)
    refuse_export_overwrite("safetensors", tmp_path / "net.safetensors", force=False)  # no metadata file beside
    refuse_export_overwrite("pt2", tmp_path / "net.pt2", force=True)


def test_safetensors_weights_load_without_nasplug_and_rebuild_the_network(networks, tmp_path):
    built = networks["darts-cell"]
    path = export_network(built, "safetensors", tmp_path / "model.safetensors")
    script = NO_NASPLUG.replace("x = torch.from_numpy(numpy.load(sys.argv[2]))", "") + textwrap.dedent("""
        from safetensors.torch import load_file
        from safetensors import safe_open
        state = load_file(sys.argv[1])
        with safe_open(sys.argv[1], framework="pt") as handle:
            meta = handle.metadata()
        print(len(state), meta["space"], meta["genotype"][:1])
    """)
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(len(built.module.state_dict())), "darts-cell", "{"]
    rebuilt = load_safetensors(path, HOOKS)
    x = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(rebuilt(x), built.module.eval()(x), atol=1e-6)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "train"
    config = training_config("DARTS_V2", hooks=HOOKS, dataset="digits", network_options={"layers": 3, "channels": 4},
                             epochs=1, seed=3, auxiliary_weight=0.0)
    train_network(config, out, hooks=HOOKS)
    return out


def test_train_writes_model_safetensors_with_the_trained_weights(trained):
    from nasplug.runs.checkpoint import load_checkpoint

    final = load_checkpoint(trained / "checkpoints" / "epoch-0001.pt")["model"]
    module = load_safetensors(trained / "model.safetensors", HOOKS)
    assert module.state_dict().keys() == final.keys()
    assert all(torch.equal(module.state_dict()[name], final[name]) for name in final)


def test_export_of_a_training_directory_carries_the_trained_weights(trained, tmp_path):
    args = ["export", str(trained), "--format", "pt2", "--out", str(tmp_path / "t.pt2")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    built = trained_network(trained, HOOKS)
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        expected = built.module.eval()(x)
    assert torch.allclose(logits_without_nasplug("pt2", tmp_path / "t.pt2", x, tmp_path), expected, atol=1e-5)
    untrained = build_network(str(trained / "genotype.json"), dataset="digits",
                              options={"layers": 3, "channels": 4}, hooks=HOOKS)
    assert not torch.allclose(untrained.module.eval()(x), expected, atol=1e-3)


def test_a_training_directory_refuses_network_flags(trained):
    with pytest.raises(TrainError, match="training directory.*--options"):
        network_for(str(trained), options={"layers": 5}, hooks=HOOKS)
    result = CliRunner().invoke(main, ["export", str(trained), "--format", "pt2", "--layers", "5"])
    assert result.exit_code == 1 and "Error: " in result.output and "Traceback" not in result.output


def test_a_foreign_safetensors_file_is_a_clear_error(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(WeightsError, match="no nasplug network metadata"):
        load_safetensors(tmp_path / "other.safetensors", HOOKS)
    (tmp_path / "torn.safetensors").write_bytes(b"\x00\x01")
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        load_safetensors(tmp_path / "torn.safetensors", HOOKS)
