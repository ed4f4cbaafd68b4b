"""`-o keep=` prunes every op, yet derivation picks only live ones; the anneal starts after warm-up."""

from __future__ import annotations

import math

import pytest
import torch

from nasplug import Step
from nasplug.core.options import resolve_options
from nasplug.core.space import DataShape
from nasplug.spaces.darts_cell.decisions import edge_key
from nasplug.spaces.darts_cell.space import DartsCellSpace
from nasplug_eoinas import EoiNAS
from nasplug_eoinas.importance import prune_lowest
from nasplug_eoinas.schedule import anneal_progress, temperature


def test_the_zero_op_goes_when_it_would_be_left_alone():
    scores = torch.tensor([[0.9, 0.1, 0.5], [0.9, 0.1, 0.5], [0.1, 0.9, 0.5]])
    alive = torch.tensor([[True, True, False], [True, True, True], [True, True, False]])
    zero = torch.tensor([[True, False, False]] * 3)
    pruned = prune_lowest(scores, alive, torch.ones(3, 3, dtype=torch.bool), zero)
    # row 0: {none, a}, a scores lowest, but pruning it would leave only none → none goes
    # row 1: {none, a, b}: a goes as usual; row 2: none scores lowest and goes anyway
    assert pruned.tolist() == [[False, True, False], [True, False, True], [False, True, False]]


def test_keep_nothing_prunes_down_to_live_ops_that_derivation_picks():
    space = DartsCellSpace(DataShape(10, 1, 8), {"layers": 3, "channels": 4})
    controller = EoiNAS(space, resolve_options(EoiNAS.options, {"warmup": 0, "interval": 1, "keep": ""},
                                               "eoinas"), 0)
    # The zero op scores highest everywhere: without the last-stage rule every edge would end with `none`.
    controller.accuracy[:, 0] = 100.0
    controller.trained[:, :8] = 1.0
    for epoch in range(7):
        controller.update_distribution(space, Step(epoch, 0, 1, 7, epoch_end=True))
    assert controller.alive.sum(dim=1).tolist() == [1] * len(controller.decisions)
    assert not (controller.alive & controller.zero).any()
    genotype = controller.derive_genotype(space)
    live = {d.key: {d.choices[i] for i in range(len(d)) if controller.alive[row, i]}
            for row, d in enumerate(controller.decisions)}
    for cell in ("normal", "reduce"):
        entries, _ = genotype.cell(cell)
        for position, (op, source) in enumerate(entries):
            node = 2 + position // 2
            assert op in live[edge_key(cell, node, source)]


def test_the_temperature_anneal_starts_when_alpha_starts_learning():
    warmup, epochs, steps = 20, 160, 10
    at = lambda epoch, index=0: anneal_progress(Step(epoch, index, steps, epochs), warmup)  # noqa: E731
    assert at(0) == at(19, 9) == 0.0  # warm-up: no gate, the temperature stays τ_max
    assert at(20) == 0.0 and temperature(at(20), 5.0, 0.1) == pytest.approx(5.0)
    assert at(90) == pytest.approx(0.5)
    assert temperature(at(159, 9), 5.0, 0.1) == pytest.approx(5.0 * 0.02 ** (1399 / 1400))
    assert anneal_progress(Step(0, 0, 1, 3), 5) == 0.0  # warm-up past the end: no anneal at all
    assert not math.isnan(anneal_progress(Step(2, 0, 1, 3), 3))
