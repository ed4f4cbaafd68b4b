"""The engine: outputs, exact resume, and what it guarantees to controllers."""

import json
import shutil

import pytest
import torch

from nasplug.runs.checkpoint import load_checkpoint
from nasplug.search import SearchConfig, run_search
from nasplug.runs.checkpoint import checkpoint_paths
from nasplug.plugin import load_plugins

pytestmark = pytest.mark.slow


def tiny_config(**overrides):
    values = dict(
        space="darts-cell",
        controller="random",
        dataset="digits",
        epochs=3,
        batch_size=64,
        space_options={"layers": "3", "channels": "4"},
        keep_checkpoints=0,
        seed=7,
    )
    values.update(overrides)
    return SearchConfig(**values)


def history_without_times(run_dir):
    records = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    for record in records:
        record.pop("seconds")
    return records


def test_search_writes_results_and_resumes_exactly(tmp_path):
    config = tiny_config()
    full = tmp_path / "full"
    result = run_search(config, full, hooks=load_plugins())
    assert (full / "genotype.json").is_file()
    assert [p.name for p in checkpoint_paths(full)] == ["epoch-0001.pt", "epoch-0002.pt", "epoch-0003.pt"]
    history = history_without_times(full)
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert all(0.0 <= r["derived_accuracy"] <= 1.0 for r in history)
    assert history[0]["lr"] > history[-1]["lr"]

    # Interrupted after epoch 1: only its checkpoint survives, history and genotype are stale.
    cut = tmp_path / "cut"
    shutil.copytree(full, cut)
    for path in checkpoint_paths(cut)[1:]:
        path.unlink()
    (cut / "genotype.json").unlink()
    resumed = run_search(config, cut, resume_from=checkpoint_paths(cut)[0], hooks=load_plugins())

    assert resumed.genotype == result.genotype
    assert history_without_times(cut) == history
    final_full = load_checkpoint(checkpoint_paths(full)[-1])
    final_cut = load_checkpoint(checkpoint_paths(cut)[-1])
    for name, tensor in final_full["supernet"].items():
        assert torch.equal(tensor, final_cut["supernet"][name]), name
    assert torch.equal(final_full["controller"]["visits"], final_cut["controller"]["visits"])
    assert torch.equal(final_full["controller"]["accuracy_sum"], final_cut["controller"]["accuracy_sum"])


def test_seed_reaches_everything(tmp_path):
    first = run_search(tiny_config(epochs=1), tmp_path / "a", hooks=load_plugins())
    second = run_search(tiny_config(epochs=1), tmp_path / "b", hooks=load_plugins())
    run_search(tiny_config(epochs=1, seed=8), tmp_path / "c", hooks=load_plugins())
    assert history_without_times(tmp_path / "a") == history_without_times(tmp_path / "b")
    assert first.genotype == second.genotype
    assert history_without_times(tmp_path / "a") != history_without_times(tmp_path / "c")


def test_random_controller_scores_choices_by_mean_accuracy():
    from nasplug.core.architecture import Architecture, Feedback
    from nasplug.controllers.random import RandomController
    from nasplug.core.space import DataShape
    from nasplug.spaces.darts_cell import DartsCellSpace

    space = DartsCellSpace(DataShape(10, 1, 8), {"layers": 3, "channels": 4})
    controller = RandomController(space, {"derive": "accuracy"}, seed=0)
    keys = [d.key for d in space.decisions()]
    first = Architecture.single_path({key: 4 for key in keys})          # sep_conv_3x3 everywhere
    second = Architecture.single_path({key: 1 for key in keys})         # max_pool_3x3 everywhere
    feedback = [Feedback(0.0, acc, 0.0, 8) for acc in (0.9, 0.2)]
    controller.record_feedback(samples=[first, second, first], feedback=[*feedback, feedback[1]])
    offset = controller.offsets["normal/edge 3<-1"]
    assert controller.visits[offset + 4] == 2 and controller.visits[offset + 1] == 1
    assert controller.accuracy_sum[offset + 4] == pytest.approx(1.1)   # (0.9 + 0.2) over 2 visits
    genotype = controller.derive_genotype(space)
    assert {op for op, _ in genotype.normal} == {"sep_conv_3x3"}        # 0.55 beats 0.2
