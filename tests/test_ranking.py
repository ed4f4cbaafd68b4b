"""The ranking-hypothesis experiment: τ against hand computation, and one tiny real run."""

import importlib.util
import json

import pytest
import torch
from click.testing import CliRunner

from nasplug.core.architecture import Decision
from nasplug.plugin import load_plugins
from nasplug.cli import main
from nasplug.train.ranking import RankingError, kendall_tau, kendall_taus, mean_tau, run_ranking_experiment, sample_architectures


def test_kendall_tau_per_epoch_by_hand():
    # accuracies[k][e]; final ranking a > c > b.
    accuracies = [
        [0.1, 0.6, 0.9],  # a
        [0.3, 0.4, 0.5],  # b
        [0.2, 0.6, 0.7],  # c
    ]
    taus = kendall_taus(accuracies)
    # epoch 1 (.1, .3, .2) reverses every pair: τ = -1.
    # epoch 2 (.6, .4, .6): (a,b) and (b,c) concordant, (a,c) tied in epoch 2 only;
    #   Eq. 6: τ = (P - Q) / (P + Q) = (2 - 0) / 2 = 1 (scipy's τ_b would give 2 / sqrt(6) = 0.816).
    # epoch 3 is the final ranking itself: τ = 1.
    assert taus == pytest.approx([-1.0, 1.0, 1.0])
    assert mean_tau(taus) == pytest.approx(0.0)


def test_eq6_tau_equals_scipys_tau_b_without_ties_and_differs_with_them():
    from scipy import stats

    x, y = [0.1, 0.5, 0.3, 0.9, 0.7], [0.2, 0.1, 0.4, 0.8, 0.6]
    # pairs: 10; discordant (0,1), (1,2) → P = 8, Q = 2, τ = 0.6
    assert kendall_tau(x, y) == pytest.approx(0.6) == pytest.approx(stats.kendalltau(x, y).statistic)
    tied = [0.1, 0.5, 0.5, 0.9, 0.7]  # (1,2) now tied: P = 8, Q = 1 → 7/9
    assert kendall_tau(tied, y) == pytest.approx(7 / 9)
    assert abs(stats.kendalltau(tied, y).statistic) < 7 / 9


def test_tau_is_undefined_where_every_architecture_ties():
    taus = kendall_taus([[0.5, 0.2, 0.1], [0.5, 0.4, 0.9]])
    assert taus == [None, pytest.approx(1.0), pytest.approx(1.0)]
    assert mean_tau(taus) == pytest.approx(1.0)
    assert mean_tau([None, 1.0]) is None


class TwoDecisionSpace:
    def decisions(self):
        return (Decision("a", ("x", "y", "z")), Decision("b", ("x", "y")))


def test_architectures_are_uniform_single_paths_repeatable_by_seed():
    space = TwoDecisionSpace()
    first = sample_architectures(space, 600, torch.Generator().manual_seed(4))
    again = sample_architectures(space, 600, torch.Generator().manual_seed(4))
    assert first == again
    counts = [0, 0, 0]
    for arch in first:
        assert all(len(paths) == 1 and paths[0].gate is None for paths in arch.paths.values())
        counts[arch.choice("a")] += 1
    assert all(150 < c < 250 for c in counts)
    assert {arch.choice("b") for arch in first} == {0, 1}


def test_too_few_architectures_or_epochs_is_a_clear_error():
    with pytest.raises(RankingError, match="at least 2 architectures"):
        run_ranking_experiment("darts-cell", "digits", architectures=1, epochs=3, hooks=load_plugins())
    with pytest.raises(RankingError, match="at least 2, got 1"):
        run_ranking_experiment("darts-cell", "digits", architectures=3, epochs=1, hooks=load_plugins())


@pytest.mark.slow
def test_tiny_ranking_run_through_the_cli_writes_json_and_plot(tmp_path):
    out = tmp_path / "ranking"
    args = ["ranking", "--space", "darts-cell", "--dataset", "digits", "--layers", "3", "--channels", "4",
            "--architectures", "3", "--epochs", "2", "--batch-size", "32", "--seed", "1", "--device", "cpu",
            "--out", str(out), "--quiet"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output

    data = json.loads((out / "ranking.json").read_text())
    assert data["architectures"] == 3 and data["epochs"] == 2
    assert data["space"] == "darts-cell" and data["dataset"] == "digits" and data["evaluated_on"] == "test"
    assert data["space_options"] == {"layers": 3, "channels": 4, "stem_multiplier": 3, "reductions": "auto"}
    assert [t["epoch"] for t in data["taus"]] == [1, 2]
    assert len(data["samples"]) == 3
    for sample in data["samples"]:
        assert len(sample["accuracy"]) == 2 and all(0.0 <= a <= 1.0 for a in sample["accuracy"])
        assert len(sample["loss"]) == 2 and all(loss > 0 for loss in sample["loss"])
        # evaluated on the digits test split: accuracies are counts out of its 359 images
        assert all(a * 359 == pytest.approx(round(a * 359)) for a in sample["accuracy"])
        assert len(sample["architecture"]) == 28
        assert all(len(names) == 1 for names in sample["architecture"].values())
    final = [sample["accuracy"][-1] for sample in data["samples"]]
    assert len(set(final)) == 3, "the tiny children should learn apart"
    taus = [t["tau"] for t in data["taus"]]
    assert all(tau is None or -1.0 <= tau <= 1.0 for tau in taus)
    assert taus[-1] == 1.0
    assert data["mean_tau"] == taus[0]
    assert f"mean tau over epochs 1-1: {data['mean_tau']:.3f}" in result.output
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out / "ranking.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:  # the plot is optional (the `plot` extra); the JSON is the result
        assert not (out / "ranking.png").exists()
