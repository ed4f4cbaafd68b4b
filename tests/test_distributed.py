"""Distributed search: two gloo processes on the CPU run one search, with identical state on every rank.

The two-process tests start real process groups (torch.multiprocessing and torchrun) and
check the semantics of docs/distributed.md: which gradient the weight step takes, what a
controller's backward through shared feedback reaches, how many samples a step has, that
every rank ends in the same state and that only rank 0 writes.
"""

import copy
import json
import os
import shutil
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn import functional as F

from nasplug.core.architecture import Architecture, GatedChoice
from nasplug.runs.checkpoint import load_checkpoint
from nasplug.cli import fresh_output_dir
from nasplug.data import make_loader
from nasplug.search.distributed import (
    DistributedError,
    World,
    check_identical,
    current_world,
    exchange_feedback,
    from_main,
    state_digest,
    training_share,
)
from nasplug.core.errors import NasplugError
from nasplug.plugin import load_plugins
from nasplug.runs.progress import Progress
from nasplug.search import SearchConfig, SearchEngine
from nasplug.runs.checkpoint import checkpoint_paths

WORLD = 2
BATCH = 64
EPOCHS = 2


def tiny_config(controller, **overrides):
    values = dict(space="darts-cell", controller=controller, dataset="digits", epochs=EPOCHS,
                  batch_size=BATCH, space_options={"layers": "3", "channels": "4"}, keep_checkpoints=0,
                  seed=3, device="cpu")
    values.update(overrides)
    return SearchConfig(**values)


def installed(controller):
    return controller in load_plugins().controllers()


# --------------------------------------------------------------------------- one process


def test_samples_and_train_losses_are_spread_over_the_ranks():
    assert list(World(1, 3).owned(8)) == [1, 4, 7]
    weights = [0.5, 0.0, 0.25, 0.25]
    assert training_share(World(0, 2), weights) == [(0, 0.5), (3, 0.25)]
    assert training_share(World(1, 2), weights) == [(2, 0.25)]
    assert training_share(World(), weights) == [(0, 0.5), (2, 0.25), (3, 0.25)]
    # A rank without a weighted sample joins DDP's all-reduce with weight 0 on one that is trained anyway.
    assert training_share(World(1, 2), [1.0, 0.0, 0.0]) == [(0, 0.0)]
    assert training_share(World(1, 2), [0.0, 0.0]) == []


def test_state_digest_sees_every_bit_and_ignores_dict_order():
    state = {"logits": torch.tensor([0.0, 1.5]), "step": 3, "nested": {"b": [1, 2], "a": "x"}}
    reordered = {"nested": {"a": "x", "b": [1, 2]}, "step": 3, "logits": torch.tensor([0.0, 1.5])}
    assert state_digest(state) == state_digest(reordered)
    changed = [
        {**state, "logits": torch.tensor([-0.0, 1.5])},  # one bit
        {**state, "logits": torch.tensor([0.0, 1.5], dtype=torch.float64)},
        {**state, "logits": torch.tensor([[0.0, 1.5]])},
        {**state, "step": 4},
        {**state, "nested": {"b": [1, 2], "c": "x"}},
    ]
    assert len({state_digest(state), *map(state_digest, changed)}) == 1 + len(changed)
    generator = torch.Generator().manual_seed(0)
    before = state_digest({"generator": generator.get_state()})
    torch.rand(1, generator=generator)
    assert state_digest({"generator": generator.get_state()}) != before


def test_one_process_needs_no_process_group():
    assert current_world() == World()
    check_identical(World(), {"anything": torch.zeros(1)})
    assert from_main(World(), lambda: 7) == 7


# --------------------------------------------------------------------------- two processes


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn(function, *args):
    mp.start_processes(function, args=(free_port(), *args), nprocs=WORLD, join=True, start_method="spawn")


def join_group(rank, port):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    return current_world()


def everywhere(decisions, op):
    return Architecture.single_path({d.key: d.index(op) for d in decisions})


def check_weight_step(engine, world):
    """DDP's step equals Σ_k w_k ∇loss_k, each loss on the batch of the rank that trained the sample."""
    decisions = engine.space.decisions()
    samples = [everywhere(decisions, op) for op in ("sep_conv_3x3", "dil_conv_3x3", "sep_conv_5x5")]
    batch = next(iter(make_loader(engine.batches.train_set, 16, shuffle=True, seed=5, epoch=0, rank=world.rank,
                                  world_size=WORLD)))
    batches = [None] * WORLD
    dist.all_gather_object(batches, batch)
    # weight 0 is skipped; [1, 0, 0] leaves rank 1 without a weighted sample of its own
    for weights, trainer in (([0.7, 0.3, 0.0], [0, 1, None]), ([1.0, 0.0, 0.0], [0, None, None])):
        before = copy.deepcopy(engine.supernet.state_dict())
        engine.step.train_weights(samples, weights, *batch)
        reference = engine.space.build_supernet()
        reference.load_state_dict(before)
        for sample, weight, rank in zip(samples, weights, trainer):
            if rank is not None:
                x, y = batches[rank]
                (weight * F.cross_entropy(reference(x, sample), y)).backward()
        nn.utils.clip_grad_norm_(reference.parameters(), engine.config.grad_clip)
        grads = {name: p.grad for name, p in engine.supernet.named_parameters()}
        for name, p in reference.named_parameters():
            if p.grad is None:  # no rank trained this op: no gradient, so no momentum or decay step
                assert grads[name] is None, name
                assert torch.equal(engine.supernet.get_parameter(name), before[name]), name
            else:
                torch.testing.assert_close(grads[name], p.grad, rtol=1e-4, atol=1e-7, msg=name)
        assert any(grads[name] is not None for name in grads if "dil_conv_3x3" in name) == (weights[1] > 0)
        assert all(grads[name] is None for name in grads if "sep_conv_5x5" in name)


def check_gate_gradients(engine, world):
    """A backward through the shared feedback reaches the controller's α as on one process."""
    decisions = engine.space.decisions()
    alpha = torch.randn(len(decisions), 8, generator=torch.Generator().manual_seed(1)).requires_grad_()

    def gated(logits, op):
        probs = logits.softmax(-1)
        return Architecture({d.key: (GatedChoice(d.index(op), probs[row, d.index(op)]),)
                             for row, d in enumerate(decisions)})

    ops = ("sep_conv_3x3", "skip_connect")
    samples = [gated(alpha, op) for op in ops]
    batch = next(iter(make_loader(engine.batches.search_set, 16, shuffle=True, seed=6, epoch=0, rank=world.rank,
                                  world_size=WORLD)))
    batches = [None] * WORLD
    dist.all_gather_object(batches, batch)
    local = {k: engine.step.feedback(samples[k], *batch) for k in world.owned(len(samples))}
    feedback = exchange_feedback(world, samples, local)
    (sum(f.loss_tensor for f in feedback) / len(feedback)).backward()

    reference_alpha = alpha.detach().clone().requires_grad_()
    reference = copy.deepcopy(engine.supernet)  # a plain backward must not reach DDP's hooks
    losses = []
    for k, op in enumerate(ops):
        x, y = batches[k % WORLD]  # sample k is evaluated by rank k mod N
        losses.append(F.cross_entropy(reference(x, gated(reference_alpha, op)), y))
    (sum(losses) / len(losses)).backward()
    assert [f.loss for f in feedback] == pytest.approx([loss.item() for loss in losses], rel=1e-6)
    assert [f.batch_size for f in feedback] == [16, 16]
    torch.testing.assert_close(alpha.grad, reference_alpha.grad, rtol=1e-4, atol=1e-8)
    check_identical(world, {"alpha.grad": alpha.grad})


def check_rank0_decides(world, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir(exist_ok=True)
    (taken / "genotype.json").touch()
    with pytest.raises(NasplugError, match="exists and is not empty"):
        from_main(world, lambda: fresh_output_dir(taken))
    assert from_main(world, lambda: f"chosen by {world.rank}") == "chosen by 0"
    with pytest.raises(DistributedError, match="the controller on rank 1 differs from rank 0"):
        check_identical(world, {"the controller": torch.tensor([float(world.rank)])})


CONTROLLERS = [
    ("random", {}),
    ("mdenas", {}),
    ("parsec", {"samples": "4"}),
    ("eoinas", {"warmup": "0", "interval": "1"}),  # α learns through the shared feedback from step 1
]


def worker(rank, port, root, controllers):
    """One process group for every two-rank check: the semantics first, then a search per controller."""
    world = join_group(rank, port)
    try:
        engine = SearchEngine(tiny_config("random"), root / "unused", load_plugins(), Progress(False), world)
        check_weight_step(engine, world)
        check_gate_gradients(engine, world)
        check_rank0_decides(world, root)
        (root / f"semantics.rank{rank}.passed").touch()
        for name, options in controllers:
            # Rank 1 gets a folder of its own: it must never be created (only rank 0 writes).
            run_dir = root / (name if rank == 0 else f"{name}-rank{rank}")
            engine = SearchEngine(tiny_config(name, controller_options=options), run_dir, load_plugins(),
                                  Progress(False), world)
            engine.start()
            result = engine.run()
            torch.save({"controller": engine.controller.state_dict(), "genotype": result.genotype.to_json()},
                       root / f"{name}.rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """Runs :func:`worker` on two gloo ranks (a failed check inside fails every test here)."""
    root = tmp_path_factory.mktemp("two-ranks")
    controllers = [(name, options) for name, options in CONTROLLERS if installed(name)]
    spawn(worker, root, controllers)
    return root, [name for name, _ in controllers]


@pytest.mark.slow
def test_two_ranks_take_the_documented_gradients(two_ranks):
    root, _ = two_ranks
    # The assertions ran on both ranks inside the worker (check_weight_step, check_gate_gradients,
    # check_rank0_decides); each rank leaves this mark only after all of them passed.
    assert all((root / f"semantics.rank{rank}.passed").is_file() for rank in range(WORLD))


def assert_same(a, b, where="state"):
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for index, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{index}]")
    else:
        assert a == b, where


# Documented: each rank takes ceil(n / N) images of each split per epoch, in full batches. Digits has 1438
# training images, half of them (719) per split: ceil(719 / 2) = 360 per rank, 5 batches of 64.
STEPS_PER_EPOCH = 5


@pytest.mark.slow
def test_two_process_searches_end_identical_on_both_ranks(two_ranks):
    root, controllers = two_ranks
    assert {"random", "mdenas"} <= set(controllers)
    for name in controllers:
        ranks = [torch.load(root / f"{name}.rank{rank}.pt", weights_only=True) for rank in range(WORLD)]
        assert_same(ranks[0]["controller"], ranks[1]["controller"], name)
        assert ranks[0]["genotype"] == ranks[1]["genotype"]
        run_dir = root / name
        assert json.loads((run_dir / "genotype.json").read_text()) == ranks[0]["genotype"]
        assert len((run_dir / "history.jsonl").read_text().splitlines()) == EPOCHS
        assert [p.name for p in checkpoint_paths(run_dir)] == ["epoch-0001.pt", "epoch-0002.pt"]
        final = load_checkpoint(checkpoint_paths(run_dir)[-1])
        assert_same(final["controller"], ranks[0]["controller"], name)
        assert final["world_size"] == WORLD
        assert not (root / f"{name}-rank1").exists()
    # A step asks the controller until every rank has a sample: K = 1 becomes 2 per step.
    steps = STEPS_PER_EPOCH
    visits = torch.load(root / "random.rank0.pt", weights_only=True)["controller"]["visits"]
    decisions = 28  # darts-cell edge decisions; each sample visits one choice of each
    assert int(visits.sum()) == EPOCHS * steps * WORLD * decisions
    trained = torch.load(root / "mdenas.rank0.pt", weights_only=True)["controller"]["times_trained"]
    assert (trained.sum(1) == EPOCHS * steps * WORLD).all()


def torchrun(*args):
    """``torchrun --standalone --nproc-per-node 2 -m nasplug run ARGS``; its stdout."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(WORLD),
               "-m", "nasplug", "run", *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def history_without_times(run_dir):
    records = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    for record in records:
        record.pop("seconds")
    return records


@pytest.mark.slow
def test_torchrun_resumes_a_two_rank_search_exactly(two_ranks, tmp_path):
    full = two_ranks[0] / "random"
    cut = tmp_path / "cut"
    shutil.copytree(full, cut)
    for path in checkpoint_paths(cut)[1:]:
        path.unlink()
    (cut / "genotype.json").unlink()
    output = torchrun("--resume", cut)
    assert output.count("genotype written to") == 1  # rank 0 alone prints

    assert (cut / "genotype.json").read_text() == (full / "genotype.json").read_text()
    assert history_without_times(cut) == history_without_times(full)
    finals = [load_checkpoint(checkpoint_paths(run)[-1]) for run in (full, cut)]
    assert_same(finals[0]["supernet"], finals[1]["supernet"])
    assert_same(finals[0]["controller"], finals[1]["controller"])
