"""bf16 autocast and channels-last in search (issue 16): off on the CPU by default, and then the same run."""

from __future__ import annotations

import math

import pytest
import torch

from nasplug import api
from nasplug.core.architecture import Step
from nasplug.plugin import load_plugins
from nasplug.runs.progress import Progress
from nasplug.search import SearchConfig, SearchEngine, read_config

SEARCH = {"dataset": "digits", "epochs": 1, "batch_size": 64, "layers": 2, "channels": 4, "progress": False,
          "device": "cpu", "eval_derived": False}


def without_times(history):
    return [{key: value for key, value in record.items() if key != "seconds"} for record in history]


def test_cpu_default_is_full_precision_contiguous_bit_for_bit(tmp_path):
    default = api.search("darts-cell", "mdenas", out=tmp_path / "default", **SEARCH)
    explicit = api.search("darts-cell", "mdenas", out=tmp_path / "explicit", amp=False, channels_last=False,
                          **SEARCH)
    assert without_times(default.history) == without_times(explicit.history)
    config = read_config(tmp_path / "default")
    assert config.amp is None and config.channels_last is None  # resolved per device, recorded as asked


@pytest.mark.parametrize("controller", ["random", "eoinas"])
def test_bf16_autocast_and_channels_last_run_on_the_cpu(tmp_path, controller):
    options = {"warmup": 0} if controller == "eoinas" else {}
    plain = api.search("darts-cell", controller, out=tmp_path / "plain", options=options, **SEARCH)
    fast = api.search("darts-cell", controller, out=tmp_path / "bf16", amp=True, channels_last=True,
                      options=options, **SEARCH)
    before, after = plain.history[0], fast.history[0]
    for key in ("train_loss", "search_loss", "train_accuracy", "search_accuracy"):
        assert math.isfinite(after[key]), key
        assert after[key] == pytest.approx(before[key], rel=0.2, abs=0.05), key
    assert after["train_loss"] != before["train_loss"]  # autocast did run the forwards in bf16
    assert read_config(tmp_path / "bf16").amp is True


def test_feedback_is_computed_in_float32_under_autocast(tmp_path):
    config = SearchConfig(space="darts-cell", controller="random", dataset="digits", batch_size=16,
                          space_options={"layers": "2", "channels": "4"}, device="cpu", amp=True,
                          channels_last=True)
    engine = SearchEngine(config, tmp_path, load_plugins(), Progress(False))
    shape = engine.data.shape
    [sample] = engine.step.sample(Step(0, 0, 1, 1))
    batch = (torch.randn(16, shape.in_channels, shape.input_size, shape.input_size),
             torch.randint(shape.num_classes, (16,)))
    x, y = engine.precision.batch(batch)
    assert x.is_contiguous(memory_format=torch.channels_last)
    result = engine.step.feedback(sample, x, y)
    assert result.loss.dtype == result.accuracy.dtype == torch.float32 and result.loss.dim() == 0
    assert result.log_likelihood.dtype == torch.float64
    assert result.log_likelihood.item() == pytest.approx(-16 * result.loss.item())
