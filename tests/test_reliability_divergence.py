"""Divergence is caught on every path and non-finite options never start a run (issue 14, item 4)."""

from __future__ import annotations

import json
import math

import pytest

from nasplug.runs.divergence import first_non_finite
from nasplug.core.options import Option, OptionError
from reliability import TINY, assert_one_line_error, cli, snapshot

pytestmark = pytest.mark.slow

TINY_TRAIN = ["train", "--genotype", "DARTS_V2", "--dataset", "digits", "--layers", "2", "--channels", "4",
              "--batch-size", "64"]


def test_first_non_finite_names_the_nested_key():
    key, value = first_non_finite({"a": 1.0, "d": {"x": [0.5, float("nan")]}})
    assert key == "d.x[1]" and math.isnan(value)
    assert first_non_finite({"a": 1.0, "b": [0.1], "c": None, "s": "inf"}) is None


@pytest.mark.parametrize("value", ["1e309", "-1e309", "nan", "inf"])
def test_float_options_must_be_finite(value):
    with pytest.raises(OptionError, match="must be a finite number"):
        Option(float, 1.0).parse("alpha", value)


@pytest.mark.parametrize("controller, option", [
    ("mdenas", "alpha=1e309"), ("eoinas", "tau_max=1e309"), ("eoinas", "arch_lr=1e309"),
    ("mdenas", "alpha=abc"),
])
def test_bad_option_values_are_refused_before_any_data_loads(tmp_path, monkeypatch, controller, option):
    def no_data(*args, **kwargs):
        raise AssertionError("the data was loaded before the options were checked")

    monkeypatch.setattr("nasplug.plugin.manager.Hooks.load_dataset", no_data)
    out = tmp_path / "run"
    assert_one_line_error(cli("run", *TINY, "--controller", controller, "-o", option, "--out", out),
                          f"option {option.split('=')[0]!r}")
    assert not out.exists()


def test_an_unknown_dataset_is_refused_before_any_data_loads(tmp_path, monkeypatch):
    monkeypatch.setattr("nasplug.plugin.manager.Hooks.load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    result = cli("run", "--space", "darts-cell", "--controller", "random", "--dataset", "mnist",
                 "--out", tmp_path / "run")
    assert_one_line_error(result, "mnist")


@pytest.mark.parametrize("controller", ["mdenas", "random"])
def test_a_diverging_search_stops_naming_the_epoch_and_the_setting(tmp_path, controller):
    out = tmp_path / "run"
    line = assert_one_line_error(
        cli("run", *TINY, "--controller", controller, "--epochs", "2", "--lr", "1e6", "--out", out),
        "epoch 1, step", "the run diverged", "lower --lr (now 1e+06)")
    assert "nan" in line or "inf" in line
    assert not list(out.glob("checkpoints/*.pt"))
    # resumable from its config (and the data's preprocessing beside it), nothing half-recorded
    assert set(snapshot(out)) == {"config.json", "preprocessing.json"}


def test_divergence_after_a_good_epoch_keeps_its_checkpoint_and_valid_history(tmp_path, fake_dist):
    fake_dist("nasplug-nanweights", {"nasplug.controllers": {"nanweights": "nanweights:NanWeights"}},
              {"nanweights.py": NAN_WEIGHTS})
    out = tmp_path / "run"
    result = cli("run", *TINY, "--controller", "nanweights", "--epochs", "3", "--out", out)
    line = assert_one_line_error(result,
                                 "epoch 2", "controller 'nanweights'", "epoch-0001.pt, is kept")
    assert "sample_weights" in line
    assert [p.name for p in out.glob("checkpoints/*.pt")] == ["epoch-0001.pt"]
    history = [json.loads(row) for row in (out / "history.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in history] == [1]


NAN_WEIGHTS = '''
    import nasplug
    from nasplug.controllers.random import RandomController


    class NanWeights(RandomController):
        """Uniform weights in epoch 1, NaN from epoch 2 on."""

        @nasplug.hookimpl
        def sample_weights(self, samples, step):
            return [float("nan") if step.epoch >= 1 else 1.0 / len(samples)] * len(samples)
'''


def test_a_diverging_training_stops_and_keeps_no_nan(tmp_path):
    out = tmp_path / "train"
    assert_one_line_error(cli(*TINY_TRAIN, "--epochs", "2", "--lr", "1e6", "--out", out),
                          "epoch 1", "the run diverged", "lower --lr (now 1e+06)")
    assert not list(out.glob("checkpoints/*.pt")) and not (out / "results.json").exists()

