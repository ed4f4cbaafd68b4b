"""The PARSEC controller's hooks, state, resume and transfer, on a small fake space."""

import gc
import math
import weakref

import pytest
import torch

from nasplug import Architecture, OptionError
from nasplug import CheckpointError
from nasplug.runs.checkpoint import load_checkpoint, save_checkpoint
from nasplug.core.controller import TransferError
from nasplug.core.options import resolve_options
from nasplug.plugin import load_plugins
from nasplug.testing import feedback as made_feedback
from nasplug.testing import tiny_space
from nasplug_parsec import PARSEC
from nasplug_parsec.estimator import FeedbackError


def controller(space=None, seed=0, **options):
    return PARSEC(space or tiny_space(SIZES), resolve_options(PARSEC.options, options, "parsec"), seed)


SIZES = {"first": 3, "second": 3, "third": 2}
SLOTS = {"node 2 slot 0": ("a<-0", "a<-1"), "node 2 slot 1": ("a<-0", "a<-1")}


def slot_space():
    """A second factorisation, ``slot``, with its own keys (as darts-cell offers)."""
    return tiny_space(SIZES, factorisations={"slot": SLOTS})


def feedback(log_likelihood, loss_tensor=None):
    return made_feedback(0.5, 0.0, log_likelihood=log_likelihood, batch_size=4, loss_tensor=loss_tensor)


def run_steps(parsec, steps, table_seed=0):
    """Sample, feed back a fixed pseudo-likelihood per architecture, update: what the engine does."""
    scores = torch.randn(3, 3, 2, generator=torch.Generator().manual_seed(table_seed))
    for _ in range(steps):
        drawn = parsec.sample_architecture()
        parsec.record_feedback(drawn, [
            feedback(float(scores[a.choice("first"), a.choice("second"), a.choice("third")])) for a in drawn
        ])
        parsec.sample_weights(drawn)
        parsec.update_distribution()


def test_entry_point_and_options():
    assert load_plugins().controller_entry("parsec").load() is PARSEC
    parsec = controller()
    assert parsec.config == {"samples": 8, "arch_lr": 0.02, "arch_weight_decay": 1e-3}
    assert parsec.optimizer.param_groups[0]["betas"] == (0.5, 0.999)
    with pytest.raises(OptionError, match="'samples' must be at least 1"):
        controller(samples=0)
    with pytest.raises(OptionError, match="'arch_lr' must be positive"):
        controller(arch_lr=-0.1)


def test_uses_the_slot_factorisation_where_offered():
    assert controller(tiny_space(SIZES)).factorisation == "edge"
    slot = controller(slot_space())
    assert slot.factorisation == "slot"
    assert set(slot.report_distribution()) == {"node 2 slot 0", "node 2 slot 1"}
    assert all(set(a.paths) == {"node 2 slot 0", "node 2 slot 1"} for a in slot.sample_architecture())


def test_samples_k_single_path_architectures_from_the_prior():
    space = tiny_space(SIZES)
    parsec = controller(space, samples=5)
    drawn = parsec.sample_architecture()
    assert len(drawn) == 5
    for arch in drawn:
        arch.validate(space.decisions())
        assert set(arch.paths) == {"first", "second", "third"}
        assert not arch.requires_grad() and all(len(paths) == 1 for paths in arch.paths.values())
    # A peaked prior is sampled accordingly.
    parsec.prior.logits["third"].copy_(torch.tensor([0.0, 30.0]))
    assert {a.choice("third") for a in parsec.sample_architecture()} == {1}


def test_weights_and_one_adam_step_by_hand():
    parsec = controller(samples=2, arch_lr=0.02)
    drawn = [Architecture.single_path({"first": 0, "second": 2, "third": 1}),
             Architecture.single_path({"first": 1, "second": 2, "third": 1})]
    parsec.record_feedback(drawn, [feedback(math.log(1.0) - 300.0), feedback(math.log(3.0) - 300.0)])
    assert parsec.sample_weights(drawn) == pytest.approx([0.25, 0.75])
    # Σ_k ω̃_k (onehot(a_k) − 1/3) on "first": (0.25, 0.75, 0) − 1/3; all samples agree on the others.
    assert parsec.gradient()["first"].tolist() == pytest.approx([0.25 - 1 / 3, 0.75 - 1 / 3, -1 / 3])
    assert parsec.gradient()["third"].tolist() == pytest.approx([-0.5, 0.5])
    parsec.update_distribution()
    # Adam's first step moves each logit by lr·sign(gradient): ascent, so towards the likely samples.
    assert parsec.prior.logits["first"].tolist() == pytest.approx([-0.02, 0.02, -0.02], rel=1e-6)
    assert parsec.prior.logits["second"].tolist() == pytest.approx([-0.02, -0.02, 0.02], rel=1e-6)
    assert parsec.evidence is None
    with pytest.raises(FeedbackError, match="no feedback for this step"):
        parsec.update_distribution()


def test_weight_decay_pulls_the_logits_toward_the_uniform_prior():
    # DARTS's Adam weight decay (§4.1) on π, under ascent: with "third" at logits (5, 0) and the one
    # sample choosing 0, the ascent gradient (1 − σ(5), σ(5) − 1) ≈ ±0.0067 is outweighed by wd·π = (5, 0)
    # on the first logit, so Adam's first step (lr·sign of the descent direction) lowers it by lr,
    # where without decay it would rise by lr.
    for decay, expected in ((1.0, [5.0 - 0.02, -0.02]), (0.0, [5.0 + 0.02, -0.02])):
        parsec = controller(samples=1, arch_lr=0.02, arch_weight_decay=decay)
        with torch.no_grad():
            parsec.prior.logits["third"].copy_(torch.tensor([5.0, 0.0]))
        drawn = [Architecture.single_path({"first": 0, "second": 0, "third": 0})]
        parsec.record_feedback(drawn, [feedback(-1.0)])
        parsec.update_distribution()
        assert parsec.prior.logits["third"].tolist() == pytest.approx(expected, abs=1e-6)  # Adam eps


def test_feedback_keeps_no_graph():
    # PARSEC learns from floats: a graph the engine attaches to a feedback dies with the feedback.
    parsec = controller(samples=3)
    drawn = parsec.sample_architecture()
    leaf = torch.randn(16, requires_grad=True)
    losses = [(leaf * (k + 1)).pow(2).sum() for k in range(3)]
    alive = [weakref.ref(loss) for loss in losses]
    results = [feedback(-float(loss.detach()), loss_tensor=loss) for loss in losses]
    parsec.record_feedback(drawn, results)
    parsec.sample_weights(drawn)
    parsec.update_distribution()
    del losses, results
    gc.collect()
    assert all(ref() is None for ref in alive)
    assert all(not logits.requires_grad for logits in parsec.prior.logits.values())


def test_report_and_derive_use_the_current_logits():
    space = tiny_space(SIZES)
    parsec = controller(space)
    run_steps(parsec, 40)
    probs = parsec.report_distribution()
    assert all(sum(p) == pytest.approx(1.0) for p in probs.values())
    genotype = parsec.derive_genotype(space)
    assert space.last_scores == {key: logits.tolist() for key, logits in parsec.prior.logits.items()}
    # The derived genotype is the mode: each decision's most probable choice.
    assert genotype.choices == {key: f"{key}-{int(torch.tensor(p).argmax())}" for key, p in probs.items()}


def test_checkpoint_round_trip_continues_exactly(tmp_path):
    uninterrupted = controller(seed=3)
    run_steps(uninterrupted, 5)
    save_checkpoint(tmp_path / "c.pt", {"format": "test", "controller": uninterrupted.state_dict()})
    run_steps(uninterrupted, 5, table_seed=1)

    resumed = controller(seed=99)
    resumed.load_state_dict(load_checkpoint(tmp_path / "c.pt")["controller"])  # weights_only load
    run_steps(resumed, 5, table_seed=1)
    for key, logits in uninterrupted.prior.logits.items():
        assert torch.equal(logits, resumed.prior.logits[key])
    assert [a.choices() for a in uninterrupted.sample_architecture()] == [
        a.choices() for a in resumed.sample_architecture()
    ]


def test_a_state_from_before_the_decay_resumes_without_it():
    # Before the option, Adam ran with weight decay 0; its restored groups say so, and the option follows.
    older = controller(arch_weight_decay=0.0)
    run_steps(older, 2)
    resumed = controller()
    resumed.load_state_dict(older.state_dict())
    assert resumed.config["arch_weight_decay"] == 0.0
    assert resumed.optimizer.param_groups[0]["weight_decay"] == 0.0


def test_load_state_rejects_foreign_state():
    state = controller().state_dict()
    with pytest.raises(CheckpointError, match="no PARSEC logits"):
        controller().load_state_dict({"generator": state["generator"], "probabilities": {}})
    with pytest.raises(CheckpointError, match="missing decisions 'second'"):
        bad = dict(state, logits={k: v for k, v in state["logits"].items() if k != "second"})
        controller().load_state_dict(bad)


def test_transfer_takes_pi_and_restarts_adam():
    earlier = controller(seed=1)
    run_steps(earlier, 20)
    later = controller(seed=2, arch_lr=0.01)
    later.transfer_state(earlier.state_dict())
    for key, logits in earlier.prior.logits.items():
        assert torch.equal(later.prior.logits[key], logits)
    assert later.optimizer.state_dict()["state"] == {}
    assert later.optimizer.param_groups[0]["lr"] == 0.01
    # Only π moves over: the sampling generator stays this run's own.
    assert later.generator.get_state().equal(controller(seed=2).generator.get_state())


def test_transfer_names_mismatched_decisions():
    earlier = controller(slot_space())
    with pytest.raises(TransferError, match=r"missing decisions 'first', 'second', 'third'; "
                                            r"unexpected decisions 'node 2 slot 0', 'node 2 slot 1'"):
        controller().transfer_state(earlier.state_dict())
    state = controller().state_dict()
    state["logits"]["third"] = torch.zeros(5, dtype=torch.float64)
    with pytest.raises(TransferError, match=r"'third' has shape \(5,\), expected 2 choices"):
        controller().transfer_state(state)
    with pytest.raises(TransferError, match="no PARSEC logits"):
        controller().transfer_state({"generator": state["generator"], "visits": {}})
