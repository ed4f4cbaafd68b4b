"""Data-parallel search on ``torch.distributed``: torchrun's process group and the engine's collectives.

torchrun starts one process per GPU (or CPU slot) with ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` in its environment;
:func:`joined` turns them into a process group (NCCL for CUDA, gloo for the CPU)
and a :class:`World`. The engine (``nasplug/search/engine.py``) runs the controller's
hooks identically on every rank and uses the helpers here to spread samples
over the ranks, share their feedback, split the weight step and check that
every rank still holds the same state. ``docs/distributed.md`` states the
semantics.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import attrs
import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from nasplug.core.architecture import Architecture, Feedback
from nasplug.core.errors import NasplugError

T = TypeVar("T")

_FEEDBACK_FIELDS = 3  # loss, accuracy, log-likelihood


class DistributedError(NasplugError, RuntimeError):
    """The distributed environment is incomplete, or the ranks no longer run the same search."""


@attrs.frozen
class World:
    """This process's place in the run: rank ``rank`` of ``size`` (a plain run is rank 0 of 1).

    ``local_rank`` numbers the processes of one machine (the GPU a process
    uses); ``backend`` is the process group's (None without one).
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the run's files and prints its progress."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.size > 1

    @property
    def device(self) -> torch.device:
        """Where this rank's collectives run: its GPU under NCCL, else the CPU."""
        if self.backend is not None and "nccl" in self.backend:
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")

    def owned(self, count: int) -> range:
        """The indices among ``count`` samples this rank evaluates: ``rank, rank + size, ...``."""
        return range(self.rank, count, self.size)


def current_world() -> World:
    """The world of an initialised default process group, or a single process's."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(
        rank=dist.get_rank(),
        size=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
        backend=str(dist.get_backend()),
    )


@contextlib.contextmanager
def joined(device: torch.device) -> Iterator[World]:
    """This process's world for a run on ``device``; joins torchrun's process group when launched by it.

    With ``WORLD_SIZE`` > 1 in the environment and no process group yet, the
    group is created from the environment (NCCL when ``device`` is CUDA, each
    rank on ``cuda:LOCAL_RANK``; gloo otherwise) and destroyed on exit. A group
    the caller created is used as it is and left alone.
    """
    if dist.is_available() and dist.is_initialized():
        yield current_world()
        return
    size = _env_int("WORLD_SIZE", 1)
    if size <= 1:
        yield World()
        return
    if not dist.is_available():
        raise DistributedError(f"WORLD_SIZE={size}, but this torch build has no torch.distributed")
    required = ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    missing = [name for name in required if name not in os.environ]
    if missing:
        raise DistributedError(
            f"WORLD_SIZE={size} but {', '.join(missing)} not set: start distributed runs with torchrun"
        )
    backend = "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(_env_int("LOCAL_RANK", 0))
    dist.init_process_group(backend)  # env://: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT
    try:
        yield current_world()
    finally:
        dist.destroy_process_group()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise DistributedError(f"environment variable {name}={value!r} is not an integer") from None


# --------------------------------------------------------------------------- coordination


def from_main(world: World, compute: Callable[[], T]) -> T:
    """``compute()`` run on rank 0 only, its result (or its NasplugError) on every rank.

    For what only one process may decide or touch: a timestamped run folder,
    the refusal of a non-empty one.
    """
    if not world.is_distributed:
        return compute()
    box: list[Any] = [None, None]
    if world.is_main:
        try:
            box = [compute(), None]
        except NasplugError as exc:
            box = [None, exc]
    dist.broadcast_object_list(box, src=0, device=world.device)
    if box[1] is not None:
        raise box[1]
    return box[0]


@contextlib.contextmanager
def local_main_first(world: World) -> Iterator[None]:
    """Run the body on each machine's local rank 0 first, then on its other ranks (downloads, caches)."""
    if world.is_distributed and world.local_rank != 0:
        dist.barrier()
    yield
    if world.is_distributed and world.local_rank == 0:
        dist.barrier()


def barrier(world: World) -> None:
    if world.is_distributed:
        dist.barrier()


def all_sum(world: World, values: Sequence[float]) -> list[float]:
    """Element-wise sums over the ranks (float64), identical on every rank."""
    if not world.is_distributed:
        return [float(value) for value in values]
    summed = torch.tensor(values, dtype=torch.float64, device=world.device)
    dist.all_reduce(summed)
    return summed.tolist()


def all_sum_tensor(world: World, values: torch.Tensor) -> torch.Tensor:
    """``values`` summed over the ranks, on the device and without a host sync (itself on one process)."""
    if world.is_distributed:
        values = values.clone()
        dist.all_reduce(values)
    return values


def rank_seed(seed: int, epoch: int, rank: int) -> int:
    """The seed of rank ``rank``'s global torch generator in ``epoch`` (augmentation draws from it).

    A function of (seed, epoch, rank) only, so a resumed distributed run needs
    no per-rank generator state; stream 2 keeps it apart from the loaders' streams.
    """
    return int(np.random.SeedSequence(seed, spawn_key=(epoch, 2, rank)).generate_state(1, np.uint64)[0])


# --------------------------------------------------------------------------- feedback


def exchange_feedback(
    world: World, samples: Sequence[Architecture], local: Mapping[int, Feedback]
) -> list[Feedback]:
    """Every sample's feedback, in sample order, on every rank; ``local`` holds this rank's own.

    Rank r evaluated samples ``r, r + size, ...`` (:meth:`World.owned`). Loss,
    accuracy and log-likelihood travel as float64 in one all-gather of one
    stacked vector per rank, so every rank gets exactly the owner's numbers, as
    0-d tensors on the run's device (no host sync where no gate learns). The
    batch size is this rank's own: every rank evaluates on the same search batch.
    Where a sample's gates require grad, the owner also sends ∂loss/∂gate and
    every rank gets as ``loss_tensor`` a first-order stand-in: the loss as its
    value, that gradient towards the gates. A controller's backward through it
    therefore reaches its parameters exactly as on one process, identically on
    every rank.
    """
    gates = [_learning_gates(sample) for sample in samples]
    widths = [_FEEDBACK_FIELDS + sum(gate.numel() for gate in sample_gates) for sample_gates in gates]
    lengths = [sum(widths[k] for k in range(rank, len(samples), world.size)) for rank in range(world.size)]
    batch_sizes = {result.batch_size for result in local.values()}
    if len(batch_sizes) != 1:
        raise DistributedError(f"this rank evaluated its samples on batches of sizes {sorted(batch_sizes)}")
    (batch_size,) = batch_sizes
    device = next(iter(local.values())).loss.device  # the run's, where the engine sums the step's metrics
    parts = [torch.zeros(0, dtype=torch.float64, device=world.device)]
    for k in world.owned(len(samples)):
        result = local[k]
        values = (result.loss, result.accuracy, result.log_likelihood)
        parts.append(torch.stack([value.to(world.device, torch.float64) for value in values]))
        parts.extend(gradient.to(world.device) for gradient in _gate_gradients(result.loss_tensor, gates[k]))
    gathered = _all_gather_vectors(world, torch.cat(parts), lengths)
    feedback: dict[int, Feedback] = {}
    for rank, vector in enumerate(gathered):
        vector = vector.to(device)
        offset = 0
        for k in range(rank, len(samples), world.size):
            loss, accuracy, log_likelihood = vector[offset : offset + _FEEDBACK_FIELDS].unbind()
            offset += _FEEDBACK_FIELDS
            gradients = []
            for gate in gates[k]:
                gradients.append(vector[offset : offset + gate.numel()].view(gate.shape))
                offset += gate.numel()
            feedback[k] = Feedback(
                loss=loss,
                accuracy=accuracy,
                log_likelihood=log_likelihood,
                batch_size=batch_size,
                loss_tensor=_stand_in(loss, gates[k], gradients) if gates[k] else None,
            )
    return [feedback[k] for k in range(len(samples))]


def _learning_gates(sample: Architecture) -> list[torch.Tensor]:
    """The sample's gates that require grad, each tensor once (a gate shared by two paths counts once)."""
    unique: dict[int, torch.Tensor] = {}
    for gate in sample.gates():
        if gate.requires_grad:
            unique.setdefault(id(gate), gate)
    return list(unique.values())


def _gate_gradients(loss: torch.Tensor | None, gates: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """∂loss/∂gate for each gate, flat float64 on its device (zeros where the loss does not reach it)."""
    if not gates:
        return []
    if loss is None:
        raise DistributedError("a sample's gates require grad, but its feedback carries no loss graph")
    # Towards the gates only: nothing accumulates into the supernet's parameters, where DDP's hooks listen.
    found = torch.autograd.grad(loss, list(gates), allow_unused=True)
    return [
        torch.zeros(gate.numel(), dtype=torch.float64, device=gate.device) if grad is None
        else grad.reshape(-1).to(torch.float64)
        for gate, grad in zip(gates, found)
    ]


def _stand_in(
    loss: torch.Tensor, gates: Sequence[torch.Tensor], gradients: Sequence[torch.Tensor]
) -> torch.Tensor:
    """A tensor worth ``loss`` whose gradient towards ``gates[i]`` is ``gradients[i]``.

    ``gate - gate.detach()`` is exactly zero with gradient one, so each term adds
    nothing to the value and exactly its gradient to the graph.
    """
    value = loss.to(gates[0].device, gates[0].dtype)
    for gate, gradient in zip(gates, gradients):
        value = value + ((gate - gate.detach()) * gradient.to(gate.device, gate.dtype)).sum()
    return value


def _all_gather_vectors(world: World, vector: torch.Tensor, lengths: Sequence[int]) -> list[torch.Tensor]:
    """Every rank's float64 ``vector`` (rank r's of length ``lengths[r]``) on every rank, on its device."""
    width = max(max(lengths), 1)
    padded = torch.zeros(width, dtype=torch.float64, device=world.device)
    padded[: len(vector)] = vector.to(world.device)
    gathered = [torch.empty_like(padded) for _ in range(world.size)]
    dist.all_gather(gathered, padded)
    return [row[:length] for row, length in zip(gathered, lengths)]


# --------------------------------------------------------------------------- weight step


def data_parallel(supernet: nn.Module, device: torch.device) -> DistributedDataParallel:
    """The supernet under DDP, set up for ranks that train different paths of it.

    ``find_unused_parameters``: a rank's samples touch only their own ops, so DDP
    must learn per step which parameters got no gradient here; they add zeros to
    the all-reduce, and those no rank used keep ``grad`` None (no momentum or
    weight-decay step), as on one process. Buffers (BatchNorm running
    statistics) are not broadcast every forward: the search runs on batch
    statistics and never reads them.
    """
    # torch 2.14 renamed broadcast_buffers to forward_sync_buffers
    renamed = "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
    return DistributedDataParallel(
        supernet,
        device_ids=[device] if device.type == "cuda" else None,
        find_unused_parameters=True,
        **{"forward_sync_buffers" if renamed else "broadcast_buffers": False},
    )


def training_share(world: World, weights: Sequence[float]) -> list[tuple[int, float]]:
    """The (sample index, weight) pairs whose train losses this rank backpropagates in the weight step.

    Samples of weight 0 are skipped, as on one process; the others go to the
    ranks in turn. DDP needs every rank in the step's all-reduce, so a rank left
    without one (fewer non-zero weights than ranks) runs the first of them with
    weight 0: the parameters it touches get their gradient from the rank that
    trains that sample anyway, so the summed gradient is unchanged.
    """
    active = [k for k, weight in enumerate(weights) if weight != 0.0]
    share = [(k, float(weights[k])) for k in active[world.rank :: world.size]]
    if not share and active and world.is_distributed:
        share = [(active[0], 0.0)]
    return share


# --------------------------------------------------------------------------- identity checks


def check_identical(world: World, parts: Mapping[str, Any]) -> None:
    """Raise DistributedError naming each part (a state dict, tensors...) that differs between ranks.

    Compares SHA-256 digests of the exact contents (:func:`state_digest`), so
    only 32 bytes per part and rank travel. A no-op on one process.
    """
    if not world.is_distributed:
        return
    digests = torch.stack(
        [torch.frombuffer(bytearray(state_digest(value)), dtype=torch.int64) for value in parts.values()]
    ).to(world.device)
    gathered = [torch.empty_like(digests) for _ in range(world.size)]
    dist.all_gather(gathered, digests)
    problems = []
    for index, name in enumerate(parts):
        rank0 = gathered[0][index]
        differing = [rank for rank in range(1, world.size) if not torch.equal(gathered[rank][index], rank0)]
        if differing:
            problems.append(f"{name} on rank{'s' if len(differing) > 1 else ''} "
                            f"{', '.join(map(str, differing))} differs from rank 0's")
    if problems:
        raise DistributedError(
            f"the ranks no longer run the same search: {'; '.join(problems)} (a controller must draw its "
            f"randomness from self.generator and learn only from the hook arguments)"
        )


def state_digest(state: Any) -> bytes:
    """SHA-256 of a nested state (mappings, sequences, tensors, plain values): structure and exact bytes.

    Tensors count by dtype, shape and raw bytes (so -0.0 and 0.0 differ);
    mapping keys are taken in sorted order, so equal contents give equal
    digests even where two processes built a dict in different orders.
    """
    digest = hashlib.sha256()
    _feed(digest, state)
    return digest.digest()


def _feed(digest: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        flat = value.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"tensor {flat.dtype} {tuple(value.shape)};".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    elif isinstance(value, Mapping):
        digest.update(f"mapping {len(value)};".encode())
        for key in sorted(value, key=repr):
            _feed(digest, key)
            _feed(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"sequence {len(value)};".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(f"{type(value).__name__} {value!r};".encode())
