"""End to end through `nasplug run`: an EoiNAS search on digits completes, prunes and resumes exactly."""

from __future__ import annotations

import json
import shutil

import pytest

from nasplug.search import read_config, run_search
from nasplug.runs.checkpoint import checkpoint_paths, load_checkpoint
from nasplug.plugin import load_plugins
from nasplug.spaces.darts_cell.ops import PRIMITIVES
from nasplug.testing import run_cli

pytestmark = pytest.mark.slow


def search(out, space: str, *args: str) -> list[dict]:
    run_cli("run", "--space", space, "--controller", "eoinas", "--dataset", "digits", "--batch-size", "128",
            "--keep-checkpoints", "0", "--quiet", "--out", out, "-o", "interval=1", *args)
    return history(out)


def history(run_dir) -> list[dict]:
    records = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    for record in records:
        record.pop("seconds")
    return records


def live_ops(record: dict) -> list[int]:
    return [sum(p > 0 for p in probs) for probs in record["distribution"].values()]


def test_darts_cell_search_prunes_one_op_per_edge_per_interval_and_resumes_exactly(tmp_path):
    out = tmp_path / "run"
    records = search(out, "darts-cell", "--epochs", "3", "--layers", "3", "--channels", "4", "-o", "warmup=1")
    assert [set(live_ops(r)) for r in records] == [{8}, {7}, {6}]  # prunes after epochs 2 and 3
    genotype = json.loads((out / "genotype.json").read_text())
    assert genotype == records[-1]["genotype"]
    final = records[-1]["distribution"]
    assert all(probs[PRIMITIVES.index("none")] > 0 for probs in final.values())  # never pruned
    for cell in ("normal", "reduce"):
        for position, (op, source) in enumerate(genotype[cell]):
            probs = final[f"{cell}/edge {2 + position // 2}<-{source}"]
            assert op != "none" and probs[PRIMITIVES.index(op)] > 0  # derived from surviving ops only

    cut = tmp_path / "cut"
    shutil.copytree(out, cut)
    for path in checkpoint_paths(cut)[1:]:
        path.unlink()
    resumed = run_search(read_config(cut), cut, resume_from=checkpoint_paths(cut)[0], hooks=load_plugins())
    assert history(cut) == records
    assert resumed.genotype.to_json() == genotype


def test_proxyless_search_prunes_every_block_down_to_one_op(tmp_path):
    records = search(
        tmp_path / "run", "proxyless-mbv2", "--epochs", "2", "--no-eval-derived", "-o", "warmup=0",
        "-o", "width_mult=0.25", "-o", "kernels=3",  # candidates: MBConv3, MBConv6, and zero where allowed
    )
    sizes = [len(probs) for probs in records[0]["distribution"].values()]
    assert set(sizes) == {2, 3}
    assert [live_ops(r) for r in records] == [[n - 1 for n in sizes], [1] * len(sizes)]


def test_a_run_started_before_eq6_resumes_as_it_started(tmp_path):
    # The old code's defaults were indicator=mean and tau_min=0.1; its config.json kept only the options
    # given and its controller state no "indicator" or "tau_min". Resumed today, the run keeps them.
    import torch

    settings = ("--epochs", "3", "--layers", "3", "--channels", "4", "-o", "warmup=1", "--keep-checkpoints", "3")
    old = search(tmp_path / "old", "darts-cell", *settings, "-o", "indicator=mean", "-o", "tau_min=0.1")
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "old", cut)
    first, *later = checkpoint_paths(cut)
    for path in later:
        path.unlink()
    (cut / "genotype.json").unlink()
    config = json.loads((cut / "config.json").read_text())
    config["controller_options"] = {"interval": "1", "warmup": "1"}
    (cut / "config.json").write_text(json.dumps(config))
    state = load_checkpoint(first)
    state["config"]["controller_options"] = config["controller_options"]
    for key in ("indicator", "tau_min"):
        del state["controller"][key]
    torch.save(state, first)  # as the code before the checksum header wrote it

    run_search(read_config(cut), cut, resume_from=cut, hooks=load_plugins())
    assert history(cut) == old
    in_effect = json.loads((cut / "config.json").read_text())["controller_options"]
    assert (in_effect["indicator"], in_effect["tau_min"]) == ("mean", 0.1)
    run_search(read_config(cut), cut, resume_from=cut, hooks=load_plugins())  # and again, from its last epoch
    run_search(read_config(cut), cut, resume_from=first, hooks=load_plugins())  # or from the old checkpoint
    assert history(cut) == old
