"""PARSEC through the real engine and CLI: K samples cost one child's memory; a digits search; transfer."""

import json
import math

import pytest
import torch

from nasplug.runs.checkpoint import load_checkpoint
from nasplug.plugin import load_plugins
from nasplug.search import SearchConfig, run_search
from nasplug.runs.checkpoint import checkpoint_paths
from nasplug.testing import TinySpacePlugin, run_cli

pytestmark = pytest.mark.slow


class SavedTensorMeter:
    """Bytes autograd keeps for backward: alive now, at the peak, and in total over a run."""

    def __init__(self) -> None:
        self.live = self.peak = self.total = 0

    def pack(self, tensor: torch.Tensor) -> "Saved":
        size = tensor.numel() * tensor.element_size()
        self.live += size
        self.total += size
        self.peak = max(self.peak, self.live)
        return Saved(tensor, size, self)

    @staticmethod
    def unpack(saved: "Saved") -> torch.Tensor:
        return saved.tensor


class Saved:
    """What autograd stores in its graph instead of the tensor; freed with the graph."""

    def __init__(self, tensor: torch.Tensor, size: int, meter: SavedTensorMeter) -> None:
        self.tensor, self.size, self.meter = tensor, size, meter

    def __del__(self) -> None:
        self.meter.live -= self.size


def search_memory(tmp_path, samples):
    hooks = load_plugins()
    hooks.pm.register(TinySpacePlugin({"first": 3, "second": 3, "third": 2}), name="tiny-space")
    config = SearchConfig(space="tiny", controller="parsec", dataset="digits", epochs=1,
                          batch_size=64, controller_options={"samples": samples}, eval_derived=False,
                          keep_checkpoints=0)
    meter = SavedTensorMeter()
    with torch.autograd.graph.saved_tensors_hooks(meter.pack, meter.unpack):
        run_search(config, tmp_path / f"k{samples}", hooks=hooks)
    assert meter.live == 0  # every graph was freed
    return meter


def test_k_samples_cost_the_memory_of_one(tmp_path):
    # Every child of the fake space saves the same bytes for backward, so a step that keeps
    # no graph across samples peaks exactly where a one-sample step does.
    one, eight = search_memory(tmp_path, 1), search_memory(tmp_path, 8)
    assert one.peak > 0
    assert eight.total == 8 * one.total  # all eight children were trained with autograd...
    assert eight.peak == one.peak  # ...one at a time


def history(run_dir):
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


def final_logits(run_dir):
    return load_checkpoint(checkpoint_paths(run_dir)[-1])["controller"]["logits"]


def test_digits_search_entropy_falls_and_init_from_starts_from_the_earlier_pi(tmp_path):
    common = ["run", "--space", "darts-cell", "--controller", "parsec", "--dataset", "digits",
              "--channels", "4", "--batch-size", "64", "--quiet"]
    small = tmp_path / "small"
    run_cli(*common, "--layers", "3", "--epochs", "2", "--out", small, "-o", "samples=4")
    records = history(small)
    uniform = sum(math.log(len(p)) for p in records[0]["distribution"].values())
    entropies = [r["entropy"] for r in records]
    assert entropies[-1] < entropies[0] < uniform
    assert all(0.0 <= r["derived_accuracy"] <= 1.0 for r in records)
    assert json.loads((small / "genotype.json").read_text())["space"] == "darts-cell"

    # §4.2: the small network's π seeds a search on a deeper one. With π's learning rate
    # near zero, the later run's π after an epoch is still the earlier run's.
    learnt = final_logits(small)
    assert max(float(pi.abs().max()) for pi in learnt.values()) > 0.05  # far from the uniform start
    deeper = tmp_path / "deeper"
    run_cli(*common, "--layers", "4", "--epochs", "1", "--out", deeper, "--init-from", small,
            "-o", "samples=2", "-o", "arch_lr=1e-7")
    started = final_logits(deeper)
    assert max(float((started[key] - pi).abs().max()) for key, pi in learnt.items()) < 1e-4
    assert history(deeper)[0]["entropy"] == pytest.approx(entropies[-1], abs=1e-2)
