"""MdeNAS through `nasplug run` on digits: entropy falls, the genotype is valid, resume is exact."""

import json
import shutil

import pytest
import torch

from nasplug.runs.checkpoint import load_checkpoint
from nasplug.plugin import load_plugins
from nasplug.testing import run_cli

pytestmark = pytest.mark.slow

RUN = ["run", "--space", "darts-cell", "--controller", "mdenas", "--dataset", "digits", "--epochs", "3",
       "--layers", "3", "--channels", "4", "--device", "cpu", "--no-eval-derived", "--keep-checkpoints", "0",
       "--quiet", "-o", "alpha=0.02"]


def history(run_dir):
    records = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    for record in records:
        record.pop("seconds")
    return records


def test_mdenas_listed_by_nasplug_plugins():
    assert "nasplug-mdenas" in [line.split()[1] for line in run_cli("plugins").output.splitlines()
                                if line.strip().startswith("mdenas")]


def test_search_lowers_entropy_derives_a_valid_genotype_and_resumes_exactly(tmp_path):
    full = tmp_path / "full"
    run_cli(*RUN, "--out", full)
    records = history(full)
    entropies = [r["entropy"] for r in records]
    assert all(later < earlier for earlier, later in zip(entropies, entropies[1:])), entropies
    assert entropies[0] < 28 * torch.log(torch.tensor(8.0)).item()  # below uniform over 28 edges × 8 ops

    data = json.loads((full / "genotype.json").read_text())
    space = load_plugins().space_entry("darts-cell").cls
    genotype = space.parse_genotype(data, "genotype.json")
    assert len(genotype.normal) == 8 and len(genotype.reduce) == 8

    cut = tmp_path / "cut"
    shutil.copytree(full, cut)
    for name in ("epoch-0002.pt", "epoch-0003.pt"):
        (cut / "checkpoints" / name).unlink()
    (cut / "genotype.json").unlink()
    run_cli("run", "--resume", cut, "--quiet")

    assert history(cut) == records
    assert json.loads((cut / "genotype.json").read_text()) == data
    expected = load_checkpoint(full / "checkpoints" / "epoch-0003.pt")["controller"]
    resumed = load_checkpoint(cut / "checkpoints" / "epoch-0003.pt")["controller"]
    for name in ("probabilities", "times_trained", "accuracy", "generator"):
        assert torch.equal(expected[name], resumed[name]), name
