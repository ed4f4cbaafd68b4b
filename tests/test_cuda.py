"""The CUDA path: a search on the GPU, bf16 training, an exact-enough resume (marker ``cuda``).

Skipped where CUDA is absent (tests/conftest.py); ``benchmarks/gpu_check.sh`` runs them
on a GPU machine with ``pytest -m cuda``.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from nasplug import api
from nasplug.core.architecture import Step
from nasplug.runs.checkpoint import load_checkpoint
from nasplug.data.bundle import TensorSource
from nasplug.data.device import DeviceSplit, cycling_device_batches
from nasplug.data.digits import load_digits
from nasplug.plugin import load_plugins
from nasplug.runs.progress import Progress
from nasplug.search import SearchConfig, SearchEngine
from nasplug.runs.checkpoint import checkpoint_paths
from nasplug.train import train_network, training_config
from test_device_data import crop_and_flip, planted
from test_train import TINY, StopAfter, read_metrics, without_times

pytestmark = pytest.mark.cuda

SEARCH = {"dataset": "digits", "epochs": 1, "batch_size": 32, "layers": 3, "channels": 4, "progress": False}


def test_search_on_cuda_follows_the_cpu_run(tmp_path):
    """The same seeded search on both devices: the random controller's samples and (with
    ``derive=random``) its genotype do not depend on the device, the losses nearly so."""
    runs = {device: api.search("darts-cell", "random", device=device, out=tmp_path / device,
                               options={"derive": "random"}, data_on_device="off", **SEARCH)
            for device in ("cpu", "cuda")}
    cpu, cuda = (runs[device].history[0] for device in ("cpu", "cuda"))
    assert cuda["steps"] == cpu["steps"] > 0
    for key in ("train_loss", "search_loss"):
        assert math.isfinite(cuda[key])
        assert cuda[key] == pytest.approx(cpu[key], rel=0.05), key  # cuDNN's TF32 convolutions differ slightly
    assert runs["cuda"].genotype.to_json() == runs["cpu"].genotype.to_json()


def test_bf16_training_on_cuda_keeps_float32_weights(tmp_path):
    settings = dict(epochs=1, seed=5, keep_checkpoints=1, device="cuda")
    losses = {}
    for amp in (False, True):
        config = training_config("DARTS_V2", hooks=load_plugins(), dataset="digits", network_options=TINY, amp=amp, **settings)
        out = tmp_path / f"amp-{amp}"
        result = train_network(config, out, hooks=load_plugins())
        losses[amp] = read_metrics(out)[0]["train_loss"]
        assert 0.0 <= result.top1 <= 1.0
        weights = load_checkpoint(checkpoint_paths(out)[-1])["model"]
        assert all(t.dtype == torch.float32 for t in weights.values() if t.is_floating_point())
    assert math.isfinite(losses[True])
    assert losses[True] != losses[False]  # autocast did run the network in bf16
    assert losses[True] == pytest.approx(losses[False], rel=0.1)


def test_resume_on_cuda_continues_the_run(tmp_path):
    config = training_config("DARTS_V2", hooks=load_plugins(), dataset="digits", network_options=TINY, epochs=3, seed=5,
                             keep_checkpoints=0, device="cuda")
    full, cut = tmp_path / "full", tmp_path / "cut"
    train_network(config, full, hooks=load_plugins())
    with pytest.raises(KeyboardInterrupt):
        train_network(config, cut, progress=StopAfter(1), hooks=load_plugins())
    train_network(None, cut, resume=True, hooks=load_plugins())
    expected, resumed = without_times(read_metrics(full)), without_times(read_metrics(cut))
    assert [r["epoch"] for r in resumed] == [r["epoch"] for r in expected]
    for mine, theirs in zip(resumed, expected):  # cuDNN's backward is not bit-reproducible
        for key, value in theirs.items():
            if isinstance(value, float):
                assert mine[key] == pytest.approx(value, rel=1e-2, abs=1e-4), key


def test_data_on_cuda_is_drawn_and_augmented_without_host_sync():
    """Batches from a split on the GPU: no host synchronisation per batch, a function of the seeds."""
    source = load_digits(augment=True, cutout=2, input_size=None).train_source
    device = torch.device("cuda")
    split = DeviceSplit(source, range(len(source.labels)), device)
    epoch = split.epoch(32, order_seed=1, augmentation_seed=lambda b: 100 + b, drop_last=True)
    cycling = cycling_device_batches(split, 32, seed=2, start=0, augmentation_seed=lambda b: 200 + b)
    next(cycling)  # the pass's order is copied to the device once per pass
    torch.cuda.set_sync_debug_mode("error")
    try:
        drawn = [batch for batch, _ in zip(epoch, range(5))] + [next(cycling) for _ in range(3)]
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert all(x.device.type == "cuda" and x.shape == (32, 1, 8, 8) for x, _ in drawn)
    again = next(iter(split.epoch(32, order_seed=1, augmentation_seed=lambda b: 100 + b, drop_last=True)))
    assert torch.equal(again[0], drawn[0][0]) and torch.equal(again[1], drawn[0][1])


def test_flips_and_crops_on_cuda_have_the_host_distribution():
    image = planted()
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
    source = TensorSource(image.expand(2000, *image.shape).contiguous(), torch.zeros(2000, dtype=torch.long),
                          padding=4, flip=True, mean=mean, std=std)
    batch, _ = DeviceSplit(source, range(2000), torch.device("cuda")).augmented(
        torch.arange(2000, device="cuda"), seed=3)
    rows, cols, mirrored = crop_and_flip(batch.cpu(), 32)
    assert set(rows.tolist()) == set(range(-4, 5)) == set(cols.tolist())
    assert abs(float(mirrored.float().mean()) - 0.5) < 0.05


def test_search_with_data_on_cuda_runs_the_same_steps(tmp_path):
    runs = {mode: api.search("darts-cell", "random", device="cuda", out=tmp_path / mode, data_on_device=mode,
                             **SEARCH) for mode in ("on", "off")}
    on, off = (runs[mode].history[0] for mode in ("on", "off"))
    assert on["steps"] == off["steps"] > 0
    assert math.isfinite(on["train_loss"]) and 0.0 <= on["derived_accuracy"] <= 1.0


SYNCS_PER_STEP = {
    "random": ({}, 0),
    "mdenas": ({}, 0),
    "parsec": ({"samples": 3}, 1),  # its K log-likelihoods, in one transfer
    "eoinas-warmup": ({}, 0),
    "eoinas": ({"warmup": 0}, 1),  # ∂loss/∂gates back to α on the host, in one transfer (Architecture.to)
}
"""Host syncs of a mid-epoch search step (tests/test_host_syncs.py counts the same reads on the CPU)."""


@pytest.mark.parametrize("case", sorted(SYNCS_PER_STEP))
def test_search_steps_sync_with_the_gpu_only_as_the_algorithm_needs(tmp_path, case):
    """``torch.cuda.set_sync_debug_mode`` warns at every host sync: a mid-epoch step makes none but what
    its algorithm needs, with bf16 autocast and channels-last on."""
    controller = case.split("-")[0]
    options, expected = SYNCS_PER_STEP[case]
    config = SearchConfig(space="darts-cell", controller=controller, dataset="digits", batch_size=32,
                          space_options={"layers": "3", "channels": "4"}, controller_options=options,
                          device="cuda")
    engine = SearchEngine(config, tmp_path, load_plugins(), Progress(False))
    assert engine.precision.amp and engine.precision.channels_last
    shape = engine.data.shape

    def batch():
        x = torch.randn(32, shape.in_channels, shape.input_size, shape.input_size, device="cuda")
        return x, torch.randint(shape.num_classes, (32,), device="cuda")

    train, search = batch(), batch()
    engine.step(Step(0, 0, 10, 1), train, search)  # first step: lazy CUDA initialisation may sync
    torch.cuda.synchronize()
    counts = []
    for index in range(1, 4):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                engine.step(Step(0, index, 10, 1), train, search)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        counts.append(sum("synchroniz" in str(warning.message) for warning in caught))
    assert max(counts) <= expected, counts


def test_a_mid_epoch_random_step_never_syncs(tmp_path):
    """The strict form: ``set_sync_debug_mode("error")`` raises at any sync inside the step."""
    config = SearchConfig(space="darts-cell", controller="random", dataset="digits", batch_size=32,
                          space_options={"layers": "3", "channels": "4"}, device="cuda")
    engine = SearchEngine(config, tmp_path, load_plugins(), Progress(False))
    shape = engine.data.shape
    x = torch.randn(32, shape.in_channels, shape.input_size, shape.input_size, device="cuda")
    y = torch.randint(shape.num_classes, (32,), device="cuda")
    engine.step(Step(0, 0, 10, 1), (x, y), (x, y))
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for index in range(1, 4):
            engine.step(Step(0, index, 10, 1), (x, y), (x, y))
    finally:
        torch.cuda.set_sync_debug_mode("default")
