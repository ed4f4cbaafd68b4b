"""GDAS sampling in EoiNAS: the straight-through gate, warm-up, the temperature, masking."""

from __future__ import annotations

import math

import attrs
import pytest
import torch

from nasplug import Step
from nasplug.core.options import OptionError, resolve_options
from nasplug.testing import evaluate, tiny_space
from nasplug_eoinas import EoiNAS
from nasplug_eoinas.controller import FeedbackError
from nasplug_eoinas.gumbel import hard_gumbel_sample
from nasplug_eoinas.schedule import temperature


def make(space, seed: int = 0, **given) -> EoiNAS:
    return EoiNAS(space, resolve_options(EoiNAS.options, given, "eoinas"), seed)


def count_forwards(supernet: torch.nn.Module) -> dict[tuple[str, int], int]:
    counts = {}
    for key, ops in supernet.ops.items():
        for index, op in enumerate(ops):
            counts[key, index] = 0

            def hook(_module, _inputs, _output, slot=(key, index)):
                counts[slot] += 1

            op.register_forward_hook(hook)
    return counts


def test_straight_through_gate_sends_gradient_to_alpha_while_only_the_sampled_op_runs():
    space = tiny_space()
    controller = make(space, warmup=0)
    supernet = space.build_supernet()
    forwards = count_forwards(supernet)
    step = Step(epoch=0, index=0, steps_per_epoch=4, epochs=2)

    [sample] = controller.sample_architecture(space, step)
    feedback = evaluate(supernet, sample)
    controller.record_feedback(space, [sample], [feedback], step)

    chosen = sample.choices()
    for (key, index), count in forwards.items():
        assert count == (1 if chosen[key] == (index,) else 0), (key, index)
    for path in (paths[0] for paths in sample.paths.values()):
        assert path.gate.requires_grad
        assert path.gate.item() == pytest.approx(1.0, abs=1e-6)  # the forward is that of the op alone
    grad = controller.alpha.grad
    for row, decision in enumerate(controller.decisions):
        assert grad[row, : len(decision)].abs().sum() > 0, decision.key
        assert torch.all(grad[row, len(decision) :] == 0)  # padding of shorter decisions
    # α only: the weights train on the train split.
    assert all(p.grad is None for p in supernet.parameters())

    before = controller.alpha.detach().clone()
    controller.update_distribution(space, step)
    assert not torch.equal(controller.alpha.detach(), before)
    assert controller.alpha.grad is None


def test_gate_gradient_is_that_of_the_relaxed_softmax():
    """∂hard[d, i]/∂α equals ∂softmax((log_softmax(α)+g)/T)[i]/∂α for the same Gumbel noise (Eq. 5)."""
    alpha = torch.tensor([[0.3, -0.2, 0.5]], requires_grad=True)
    index, hard = hard_gumbel_sample(alpha, 2.0, torch.Generator().manual_seed(3))
    hard[0, index[0]].backward()

    noise = -torch.empty(1, 3).exponential_(generator=torch.Generator().manual_seed(3)).log()
    reference = alpha.detach().clone().requires_grad_(True)
    probs = torch.softmax((torch.log_softmax(reference, -1) + noise) / 2.0, -1)
    assert int(index[0]) == int(probs.argmax())
    probs[0, index[0]].backward()
    assert torch.allclose(alpha.grad, reference.grad)
    assert alpha.grad.abs().sum() > 0


def test_masked_choices_are_never_drawn_and_get_no_gradient():
    alpha = torch.zeros(2, 3, requires_grad=True)
    mask = torch.tensor([[True, False, True], [False, True, False]])
    generator = torch.Generator().manual_seed(0)
    drawn = set()
    for _ in range(200):
        index, hard = hard_gumbel_sample(alpha.masked_fill(~mask, float("-inf")), 1.0, generator)
        drawn |= {(0, int(index[0])), (1, int(index[1]))}
        (hard[0, index[0]] + hard[1, index[1]]).backward()
    assert drawn == {(0, 0), (0, 2), (1, 1)}
    assert torch.isfinite(alpha.grad).all()
    assert torch.all(alpha.grad[~mask] == 0)


def test_warmup_trains_weights_only_and_samples_uniformly():
    space = tiny_space()
    controller = make(space, warmup=2)
    supernet = space.build_supernet()
    counts = torch.zeros(4)
    for epoch in range(2):
        for index in range(300):
            step = Step(epoch, index, 300, 4, epoch_end=index == 299)
            [sample] = controller.sample_architecture(space, step)
            assert all(path.gate is None for paths in sample.paths.values() for path in paths)
            counts[sample.choice("first")] += 1
            if index < 2:
                feedback = evaluate(supernet, sample)
                assert feedback.loss_tensor is None
                controller.record_feedback(space, [sample], [feedback], step)
            controller.update_distribution(space, step)
    assert torch.all(controller.alpha == 0)
    # 600 draws over 4 ops: uniform gives 150 each (sd ≈ 10.6).
    assert torch.all((counts > 110) & (counts < 190)), counts

    [after] = controller.sample_architecture(space, Step(2, 0, 300, 4))
    assert after.requires_grad()


def test_gated_sample_without_a_loss_graph_is_a_clear_error():
    space = tiny_space()
    controller = make(space, warmup=0)
    step = Step(0, 0, 1, 1)
    [sample] = controller.sample_architecture(space, step)
    feedback = attrs.evolve(evaluate(space.build_supernet(), sample), loss_tensor=None)
    with pytest.raises(FeedbackError, match="loss_tensor"):
        controller.record_feedback(space, [sample], [feedback], step)


def test_temperature_anneals_exponentially_from_tau_max_to_tau_min():
    assert temperature(0.0, 5.0, 0.1) == pytest.approx(5.0)
    assert temperature(1.0, 5.0, 0.1) == pytest.approx(0.1)
    assert temperature(0.5, 5.0, 0.1) == pytest.approx(math.sqrt(0.5))
    assert temperature(0.25, 5.0, 0.1) / temperature(0.0, 5.0, 0.1) == pytest.approx(
        temperature(0.75, 5.0, 0.1) / temperature(0.5, 5.0, 0.1)
    )


def test_same_seed_draws_the_same_architectures():
    space = tiny_space()
    first, second = make(space, seed=7, warmup=0), make(space, seed=7, warmup=0)
    for index in range(5):
        step = Step(0, index, 5, 1)
        [a] = first.sample_architecture(space, step)
        [b] = second.sample_architecture(space, step)
        assert a.choices() == b.choices()


@pytest.mark.parametrize(
    "given, message",
    [
        ({"interval": "0"}, "interval"),
        ({"warmup": "-1"}, "warmup"),
        ({"tau_min": "0"}, "tau_min"),
        ({"tau_min": "6"}, "tau_min"),
        ({"lambda": "-0.5"}, "lambda"),
        ({"arch_lr": "0"}, "arch_lr"),
        ({"arch_weight_decay": "-1"}, "arch_weight_decay"),
        ({"keep": "none,nnone"}, "'nnone' is not a choice"),
    ],
)
def test_bad_options_are_one_line_errors(given, message):
    with pytest.raises(OptionError, match=message):
        make(tiny_space(), **given)
