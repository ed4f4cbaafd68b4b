"""The end of a search says how it went (issue 26, items 4 and 6): wall time, final and best derived accuracy,
what checkpoints are kept, and a warning where the search could not learn."""

import json

import pytest
from click.testing import CliRunner
from torch.utils.data import Dataset

from nasplug import api
from nasplug.cli import main
from nasplug.data.digits import load_digits
from nasplug.search.summary import too_few_steps, unmoved

pytestmark = pytest.mark.slow

TINY = ["--space", "darts-cell", "--controller", "mdenas", "--dataset", "digits", "--layers", "3",
        "--channels", "4", "--batch-size", "128"]


def test_a_quiet_run_ends_with_its_summary_written_into_the_folder(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", *TINY, "--epochs", "2", "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    best = max(history, key=lambda record: record["derived_accuracy"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best_epoch"] == best["epoch"] and summary["best_derived_accuracy"] == best["derived_accuracy"]
    assert summary["final_derived_accuracy"] == history[-1]["derived_accuracy"]
    assert summary["wall_seconds"] == pytest.approx(sum(record["seconds"] for record in history), abs=1e-3)
    assert summary["checkpoints"] == ["epoch-0001.pt", "epoch-0002.pt"]
    assert f"best {best['derived_accuracy']:.4f} at epoch {best['epoch']}" in result.output
    assert "search finished: 2 epochs in" in result.output and "--resume needs only the newest" in result.output


class Few(Dataset):
    """150 digits, as a user's own dataset: with batch 64 and half held out, one step per epoch."""

    def __init__(self):
        bundle = load_digits(augment=False, cutout=0, input_size=None)
        self.images, self.labels = bundle.train.images[:150], bundle.train.labels[:150]
        self.classes = [str(digit) for digit in range(10)]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.images[index], int(self.labels[index])


def test_a_search_with_one_step_per_epoch_warns_that_it_cannot_learn(tmp_path):
    messages = []

    class Recorder(api.Progress):
        def message(self, text):
            messages.append(text)

    result = api.search("darts-cell", "mdenas", data=Few(), out=tmp_path / "few", epochs=3, batch_size=64,
                        layers=3, channels=4, progress=Recorder(enabled=False))
    assert {record["steps"] for record in result.history} == {1}
    warnings = result.summary.warnings
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith("1 step(s) per epoch, fewer than the 8 choices")
    assert "has not moved" in warnings[1]
    assert any(text.startswith("warning: 1 step(s) per epoch") for text in messages)  # said at epoch 1 too
    assert json.loads((tmp_path / "few" / "summary.json").read_text())["warnings"] == warnings


def test_the_warnings_stay_silent_where_the_distribution_moved():
    moved = [{"epoch": 1, "steps": 20, "entropy": 1.0, "entropy_max": 1.1, "distribution": {"e": [0.5, 0.3, 0.2]}},
             {"epoch": 2, "steps": 20, "entropy": 0.9, "entropy_max": 1.1, "distribution": {"e": [0.6, 0.3, 0.1]}}]
    assert too_few_steps(moved) is None and unmoved(moved) is None
    stuck = [dict(moved[0]), dict(moved[0], epoch=2)]
    assert "the same as after epoch 1" in unmoved(stuck)
    assert "2 step(s) per epoch" in too_few_steps([dict(moved[0], steps=2)])


def test_the_random_baseline_is_not_warned_that_its_uniform_distribution_has_not_moved(tmp_path):
    result = api.search("darts-cell", "random", data=Few(), out=tmp_path / "random", epochs=2, batch_size=16,
                        layers=3, channels=4, progress=False)
    assert not any("has not moved" in warning for warning in result.summary.warnings)  # it samples uniformly
    assert unmoved(result.history) is not None  # though its reported distribution is uniform


def test_a_kill_before_the_genotype_leaves_the_summary_and_a_resume_finishes(tmp_path, monkeypatch):
    from nasplug.search import engine

    written = engine.write_json

    def killed_at_the_genotype(path, data):
        if path.name == "genotype.json":
            raise KeyboardInterrupt
        written(path, data)

    monkeypatch.setattr(engine, "write_json", killed_at_the_genotype)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        api.search("darts-cell", "mdenas", data=Few(), out=out, epochs=1, batch_size=64, layers=3, channels=4,
                   progress=False)
    assert (out / "summary.json").exists() and not (out / "genotype.json").exists()
    monkeypatch.setattr(engine, "write_json", written)
    api.resume_search(out, data=Few(), progress=False)
    assert (out / "genotype.json").exists() and (out / "summary.json").exists()
