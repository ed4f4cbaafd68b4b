"""Retraining a genotype: the recipes, the loss, drop-path, cutout, exact resume and the result files."""

import json
import shutil

import pytest
import torch
from click.testing import CliRunner
from torch.nn import functional as F

from nasplug.core.errors import CheckpointError
from nasplug.runs.checkpoint import load_checkpoint
from nasplug.cli import main
from nasplug.networks.genotypes import GenotypeError, load_genotype
from nasplug.networks.cost import model_cost
from nasplug.networks.build import build_network
from nasplug.core.options import OptionError
from nasplug.plugin import load_plugins
from nasplug.runs.progress import Progress
from nasplug.runs.checkpoint import checkpoint_paths
from nasplug.core.space import DataShape
from nasplug.spaces.darts_cell import DartsCellSpace
from nasplug.spaces.darts_cell.genotypes import DARTS_V2
from nasplug.train import Trainer, TrainError, read_config, train_network, training_config
from nasplug.train.loop import training_loss
from nasplug.train.trainer import make_scheduler

TINY = {"layers": 3, "channels": 4, "drop_path": 0.3}
HOOKS = load_plugins()


def tiny_config(**settings):
    values = dict(epochs=3, seed=5, keep_checkpoints=0)
    values.update(settings)
    return training_config("DARTS_V2", hooks=HOOKS, dataset="digits", network_options=TINY, **values)


def without_times(records):
    return [{k: v for k, v in record.items() if k != "seconds"} for record in records]


def read_metrics(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


class StopAfter(Progress):
    """Interrupts training (as Ctrl-C would) once ``epochs`` epochs are checkpointed."""

    def __init__(self, epochs):
        super().__init__(enabled=False)
        self.left = epochs

    def end_epoch(self, summary):
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "full"
    return out, train_network(tiny_config(), out, hooks=HOOKS)


# ---------------------------------------------------------------------------- recipes


def test_recipes_follow_the_papers():
    cifar = training_config("DARTS_V2", hooks=HOOKS, dataset="cifar10")
    assert {k: cifar.network_options[k] for k in ("layers", "channels", "auxiliary", "drop_path")} == {
        "layers": 20, "channels": 36, "auxiliary": True, "drop_path": 0.2}
    assert (cifar.epochs, cifar.batch_size, cifar.lr, cifar.momentum, cifar.weight_decay, cifar.cutout,
            cifar.auxiliary_weight, cifar.grad_clip, cifar.schedule, cifar.label_smoothing) == (
        600, 96, 0.025, 0.9, 3e-4, 16, 0.4, 5.0, "cosine", 0.0)

    imagenet = training_config("DARTS_V2", hooks=HOOKS, dataset="imagenet")
    assert (imagenet.network_options["layers"], imagenet.network_options["channels"]) == (14, 48)
    assert (imagenet.lr, imagenet.schedule, imagenet.lr_decay, imagenet.label_smoothing, imagenet.cutout,
            imagenet.auxiliary_weight) == (0.1, "step", 0.97, 0.1, 0, 0.4)

    mobile = training_config("proxyless_gpu", hooks=HOOKS, dataset="imagenet")
    assert (mobile.nesterov, mobile.weight_decay, mobile.label_smoothing, mobile.auxiliary_weight,
            mobile.batch_size, mobile.lr, mobile.epochs) == (True, 4e-5, 0.1, 0.0, 256, 0.05, 300)
    assert training_config("proxyless_gpu", hooks=HOOKS, dataset="digits", batch_size=128).lr == 0.025  # 0.05 per 256
    assert training_config("proxyless_gpu", hooks=HOOKS, dataset="digits", lr=0.3).lr == 0.3


def test_overrides_win_and_are_checked():
    config = training_config("DARTS_V2", hooks=HOOKS, dataset="cifar10", epochs=5, cutout=0, auxiliary_weight=0.0,
                             network_options={"layers": "6", "drop_path": "0.3"})
    assert (config.epochs, config.cutout, config.auxiliary_weight) == (5, 0, 0.0)
    assert config.network_options["layers"] == 6 and config.network_options["drop_path"] == 0.3
    assert config.network_options["auxiliary"] is False  # weight 0: no head is built
    with pytest.raises(OptionError, match="unknown option drop_path for the proxyless-mbv2 network"):
        training_config("proxyless_gpu", hooks=HOOKS, dataset="digits", network_options={"drop_path": 0.1})
    with pytest.raises(TrainError, match="needs an auxiliary head"):
        training_config("DARTS_V2", hooks=HOOKS, dataset="digits", network_options={"auxiliary": "false"})
    with pytest.raises(TrainError, match="needs an auxiliary head"):
        training_config("proxyless_gpu", hooks=HOOKS, dataset="digits", auxiliary_weight=0.4)
    with pytest.raises(GenotypeError, match="own notation nor a published genotype"):
        training_config("DARTS_V9", hooks=HOOKS, dataset="digits")
    with pytest.raises(TrainError, match="invalid training configuration: label_smoothing=1.5"):
        training_config("DARTS_V2", hooks=HOOKS, dataset="digits", label_smoothing=1.5)


def test_schedules():
    def lrs(config, epochs):
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.lr)
        scheduler = make_scheduler(optimizer, config)
        values = []
        for _ in range(epochs):
            values.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        return values

    imagenet = training_config("DARTS_V2", hooks=HOOKS, dataset="imagenet")
    assert lrs(imagenet, 3) == pytest.approx([0.1, 0.1 * 0.97, 0.1 * 0.97**2])
    cifar = training_config("DARTS_V2", hooks=HOOKS, dataset="cifar10", epochs=4)
    assert lrs(cifar, 4) == pytest.approx([0.025 * (1 + torch.cos(torch.tensor(torch.pi * e / 4)).item()) / 2
                                           for e in range(4)])
    # linear decay (EoiNAS §4.3/§4.4): lr_min + (lr − lr_min)·(1 − e/epochs), by hand for 0.1 → 0.02 in 4
    linear = training_config("DARTS_V2", hooks=HOOKS, dataset="cifar10", epochs=4, schedule="linear",
                             lr=0.1, lr_min=0.02)
    assert lrs(linear, 5) == pytest.approx([0.1, 0.08, 0.06, 0.04, 0.02])


# ---------------------------------------------------------------------------- the loss and the network


def tiny_network(auxiliary):
    space = DartsCellSpace(DataShape(10, 1, 8), {})
    torch.manual_seed(0)
    return space.build_network(DARTS_V2, {"layers": 3, "channels": 4, "auxiliary": auxiliary})


def test_auxiliary_loss_reaches_the_head_and_changes_the_gradient():
    x, y = torch.randn(6, 1, 8, 8), torch.tensor([0, 1, 2, 3, 4, 5])
    stem_grads, head_grads = [], []
    for weight in (0.0, 0.4):
        network = tiny_network(auxiliary=True).train()
        logits, aux_logits = network(x)
        loss, returned = training_loss((logits, aux_logits), y, weight, label_smoothing=0.1)
        expected = F.cross_entropy(logits, y, label_smoothing=0.1) + weight * F.cross_entropy(
            aux_logits, y, label_smoothing=0.1)
        assert torch.equal(returned, logits) and torch.allclose(loss, expected)
        loss.backward()
        stem_grads.append(network.stem.conv.weight.grad.clone())
        head_grads.append(network.auxiliary.classifier.weight.grad)
    assert head_grads[0] is None and head_grads[1].abs().sum() > 0
    assert not torch.allclose(stem_grads[0], stem_grads[1])


def test_drop_path_acts_in_training_only():
    network = tiny_network(auxiliary=False)
    network.drop_path_prob = 0.5
    x = torch.randn(8, 1, 8, 8)
    network.train()
    torch.manual_seed(1)
    first, _ = network(x)
    second, _ = network(x)
    assert not torch.equal(first, second)
    network.eval()
    assert torch.equal(network(x), network(x))


def test_training_images_get_the_configured_cutout(tmp_path):
    plain, cut = (Trainer(tiny_config(cutout=length), tmp_path, load_plugins(), Progress(False)).data.train
                  for length in (0, 3))
    for index in range(20):
        torch.manual_seed(index)  # the same shift for both; cutout draws after it
        before = plain[index][0][0]
        torch.manual_seed(index)
        after = cut[index][0][0]
        rows, cols = torch.nonzero(before != after, as_tuple=True)
        assert len(rows) >= 1 and torch.all(after[rows, cols] == 0)  # erased to the (normalised) mean
        assert rows.max() - rows.min() < 3 and cols.max() - cols.min() < 3
    assert not (tmp_path / "config.json").exists()


# ---------------------------------------------------------------------------- a real run


def test_run_writes_metrics_results_and_ramps_drop_path(finished):
    out, result = finished
    metrics = read_metrics(out)
    assert [m["epoch"] for m in metrics] == [1, 2, 3]
    assert [m["drop_path"] for m in metrics] == pytest.approx([0.0, 0.1, 0.2])  # p · e / E, p = 0.3
    assert metrics[0]["lr"] > metrics[1]["lr"] > metrics[2]["lr"] > 0
    results = json.loads((out / "results.json").read_text())
    assert results["top1"] == metrics[-1]["test_top1"] == result.top1
    assert results["top5"] == metrics[-1]["test_top5"] >= results["top1"]
    assert results["top1"] > 0.3  # 10 classes: well above chance after 3 epochs
    assert results["genotype"] == DARTS_V2.to_json() and results["config"] == read_config(out).to_json()
    assert [p.name for p in checkpoint_paths(out)] == ["epoch-0001.pt", "epoch-0002.pt", "epoch-0003.pt"]


def test_results_parameters_equal_nasplug_info(finished):
    out, _ = finished
    results = json.loads((out / "results.json").read_text())
    for reference in (str(out), str(out / "results.json")):
        built = build_network(reference, dataset="digits", options={"layers": 3, "channels": 4}, hooks=HOOKS)
        cost = model_cost(built.module, built.data)
        assert results["parameters"] == cost.parameters and results["macs"] == cost.macs
    assert results["auxiliary_parameters"] > 0
    _, genotype = load_genotype(str(out / "results.json"), load_plugins())
    assert genotype == DARTS_V2


def test_evaluation_is_deterministic_and_matches_the_record(finished):
    out, _ = finished
    trainer_metrics = read_metrics(out)[-1]

    trainer = Trainer(read_config(out), out, load_plugins(), Progress(False))
    trainer.restore(load_checkpoint(checkpoint_paths(out)[-1]))
    trainer.model.drop_path_prob = 0.5
    first, second = trainer.evaluate(), trainer.evaluate()
    assert first == second == {k: trainer_metrics[k] for k in ("test_loss", "test_top1", "test_top5")}


def test_resume_continues_exactly(finished, tmp_path):
    full, _ = finished
    cut = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        train_network(tiny_config(), cut, progress=StopAfter(1), hooks=HOOKS)
    assert len(read_metrics(cut)) == 1 and not (cut / "results.json").exists()

    train_network(None, cut, resume=True, hooks=HOOKS)
    assert without_times(read_metrics(cut)) == without_times(read_metrics(full))
    results = [json.loads((d / "results.json").read_text()) for d in (full, cut)]
    for r in results:
        r.pop("wall_time_seconds")
    assert results[0] == results[1]
    final_full, final_cut = (load_checkpoint(checkpoint_paths(d)[-1]) for d in (full, cut))
    assert final_full["model"].keys() == final_cut["model"].keys()
    for name, tensor in final_full["model"].items():
        assert torch.equal(tensor, final_cut["model"][name]), name


def test_mixed_precision_and_channels_last_path(tmp_path):
    """The CUDA code path (bf16 autocast, channels-last), run on CPU where it is opt-in."""
    config = tiny_config(epochs=1, amp=True, channels_last=True, auxiliary_weight=0.0)
    trainer = Trainer(config, tmp_path, load_plugins(), Progress(False))
    assert trainer.model.stem.conv.weight.is_contiguous(memory_format=torch.channels_last)
    result = train_network(config, tmp_path / "out", hooks=HOOKS)
    metrics = read_metrics(tmp_path / "out")[0]
    assert torch.isfinite(torch.tensor(metrics["train_loss"])) and 0 <= result.top1 <= 1


def test_directories_and_checkpoints_are_checked(finished, tmp_path):
    out, _ = finished
    with pytest.raises(TrainError, match="exists and is not empty"):
        train_network(tiny_config(), out, hooks=HOOKS)
    with pytest.raises(TrainError, match="different configuration"):
        train_network(tiny_config(seed=6), out, resume=True, hooks=HOOKS)
    with pytest.raises(TrainError, match="no config.json"):
        train_network(None, tmp_path, resume=True, hooks=HOOKS)
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    checkpoint_paths(broken)[-1].write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="epoch-0003.pt: not a readable nasplug checkpoint"):
        train_network(None, broken, resume=True, hooks=HOOKS)


# ---------------------------------------------------------------------------- the command line


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.slow
def test_cli_trains_what_a_search_produced(tmp_path):
    search = tmp_path / "search"
    tiny = ["--dataset", "digits", "--layers", "3", "--channels", "4"]
    assert invoke("run", "--space", "darts-cell", "--controller", "random", *tiny, "--epochs", "1",
                  "--out", search).exit_code == 0
    out = tmp_path / "eval"
    result = invoke("train", "--genotype", search, *tiny, "--epochs", "2", "--auxiliary-weight", "0", "--out", out,
                    "--quiet")
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert f"test top-1 {100 * results['top1']:.2f} %" in result.output
    assert results["genotype"] == json.loads((search / "genotype.json").read_text())

    info = invoke("info", "--genotype", out / "results.json", *tiny)
    assert f"parameters     {results['parameters'] / 1e6:.6f} M" in info.output
    assert all("node 2" in invoke("show", ref).output for ref in (out, out / "results.json"))

    again = invoke("train", "--genotype", search, *tiny, "--out", out)
    assert again.exit_code != 0 and "exists and is not empty" in again.output
    mixed = invoke("train", "--resume", out, "--epochs", "3")
    assert mixed.exit_code != 0 and "drop --epochs" in mixed.output
    resumed = invoke("train", "--resume", out)
    assert resumed.exit_code == 0 and f"test top-1 {100 * results['top1']:.2f} %" in resumed.output
