"""Planted optimum: through the real engine, controllers recover an architecture that is best by construction.

The problem (nasplug.testing.planted): 6 decisions × 4 choices, one signal-carrying
choice per decision. Chance recovery is 1/4. Every search below has the same small
budget; recovery is pooled over the seeds.
"""

import shutil

import pytest
import torch

from nasplug.plugin import load_plugins
from nasplug.search import SearchConfig, run_search
from nasplug.runs.checkpoint import checkpoint_paths
from nasplug.testing.planted import (
    PlantedGenotype,
    PlantedProblem,
    PlantedSpace,
    planted_data,
    planted_plugin,
    recover_fraction,
    space_options,
)

SEEDS = (0, 1, 2)
BUDGET = {"epochs": 10, "batch_size": 64, "lr": 0.1}
"""32 steps per epoch on 4096 images (half of them for the weights, half for the feedback)."""
IMAGES = 4096

pytestmark = pytest.mark.slow


def problem(seed):
    return PlantedProblem(seed=seed, signal=1.5)


def config(controller, seed, options=None, **overrides):
    values = dict(BUDGET)
    values.update(
        space="planted",
        controller=controller,
        dataset="planted",
        seed=seed,
        space_options=space_options(problem(seed)),
        controller_options=options or {},
        eval_derived=False,
        keep_checkpoints=0,
    )
    values.update(overrides)
    return SearchConfig(**values)


def search(cfg, run_dir, resume_from=None):
    return run_search(
        cfg,
        run_dir,
        resume_from=resume_from,
        hooks=planted_plugin(load_plugins()),
        data=planted_data(problem(cfg.seed), IMAGES),
    )


def pooled_recovery(controller, tmp_path, options=None, **overrides):
    fractions = []
    for seed in SEEDS:
        result = search(config(controller, seed, options, **overrides), tmp_path / str(seed))
        fractions.append(recover_fraction(result.genotype, problem(seed)))
    return sum(fractions) / len(fractions)


@pytest.mark.parametrize(
    ("controller", "options", "epochs", "threshold"),
    [
        ("parsec", {}, 10, 0.9),
        # Alg. 1's weight-only warm-up, scaled to the budget (default 20 of 160 epochs). The recovery
        # comes from the indicator's accuracy term: on this problem the gate gradient moves α *away* from
        # the planted choice (its β ends lowest), and Eq. 6's latest-accuracy-per-iteration, one noisy
        # batch over a count that follows β, recovers 0.44 here; the mean reading recovers it
        # (docs/controllers/eoinas.md, "The indicator").
        ("eoinas", {"warmup": "2", "indicator": "mean"}, 10, 0.9),
        # The default, Eq. 6 as written: 0.44 pooled here (8 of 18 decisions; seeds 3-8 gave 0.50-0.83).
        # A chance-level derivation (1/4) reaches 8 of 18 with probability 0.057: the row catches a
        # regression to chance, not a small loss (docs/planted-optimum.md).
        ("eoinas", {"warmup": "2"}, 10, 0.4),
        # Eq. 5 never promotes the most-sampled op, only demotes it, so the final p of the planted
        # choice hovers at parity with the runner-up while its share of the samples (H^e) leads:
        # the final p recovers less, and less the longer the search (docs/planted-optimum.md).
        ("mdenas", {}, 10, 0.75),
        ("mdenas", {"derive": "frequency"}, 30, 0.9),
    ],
)
def test_controller_recovers_the_planted_choices(tmp_path, controller, options, epochs, threshold):
    torch.set_num_threads(1)
    assert pooled_recovery(controller, tmp_path, options, epochs=epochs) >= threshold


def test_random_derivation_stays_at_chance(tmp_path):
    torch.set_num_threads(1)
    # chance is 0.25; 0.5 of 18 decisions by luck has probability about 0.02
    assert pooled_recovery("random", tmp_path, {"derive": "random"}) < 0.5


def test_planted_space_rewards_the_planted_choices():
    """The problem itself: a fresh supernet trained on the planted path beats one trained on any other."""
    torch.manual_seed(0)
    planted = problem(0)
    data = planted_data(planted, 1024)
    space = PlantedSpace(data.shape, space_options(planted))
    images, labels = data.train.images, data.train.labels
    wrong = tuple((choice + 1) % planted.choices for choice in planted.planted())

    def trained_accuracy(chosen):
        net = space.build_supernet()
        arch = space.architecture_from_genotype(PlantedGenotype(chosen))
        optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
        for _ in range(100):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(images, arch), labels).backward()
            optimizer.step()
        return float((net(images, arch).argmax(1) == labels).float().mean())

    assert trained_accuracy(planted.planted()) > 0.9
    assert trained_accuracy(wrong) < 0.35  # four classes: chance is 0.25


def test_resumed_search_recovers_what_the_uninterrupted_one_does(tmp_path):
    torch.set_num_threads(1)
    cfg = config("mdenas", 0)  # its tables (H^e, H^a, p) live in the checkpoint
    full = search(cfg, tmp_path / "full")
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "full", cut)
    for path in checkpoint_paths(cut)[5:]:
        path.unlink()
    resumed = search(cfg, cut, resume_from=checkpoint_paths(cut)[-1])
    assert resumed.genotype == full.genotype
    assert recover_fraction(resumed.genotype, problem(0)) == recover_fraction(full.genotype, problem(0))
    assert resumed.history[-1]["distribution"] == full.history[-1]["distribution"]
