"""EoiNAS on proxyless-mbv2: decisions of 6 and 7 choices in one table, pruned down to one op each."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nasplug import DataShape, Feedback, Step
from nasplug.core.options import resolve_options
from nasplug.spaces.proxyless import ProxylessSpace
from nasplug_eoinas import EoiNAS


def test_mixed_choice_counts_learn_and_prune_to_one_op():
    space = ProxylessSpace(DataShape(10, 1, 8), {"width_mult": 0.25})
    sizes = [len(d) for d in space.decisions()]
    assert set(sizes) == {6, 7}  # blocks with and without `zero`
    controller = EoiNAS(space, resolve_options(EoiNAS.options, {"warmup": 0, "interval": 1}, "eoinas"), 0)
    supernet = space.build_supernet()

    step = Step(0, 0, 1, 7, epoch_end=True)
    [sample] = controller.sample_architecture(space, step)
    x, y = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 2, 3])
    loss = F.cross_entropy(supernet(x, sample), y)
    controller.record_feedback(space, [sample], [Feedback(loss.item(), 0.5, 0.0, 4, loss)], step)
    gradient = controller.alpha.grad
    assert torch.isfinite(gradient).all()
    assert gradient[:, : min(sizes)].abs().sum() > 0
    for row, size in enumerate(sizes):
        assert torch.all(gradient[row, size:] == 0)

    for epoch in range(7):
        controller.update_distribution(space, Step(epoch, 0, 1, 7, epoch_end=True))
        alive = controller.alive.sum(dim=1)
        assert alive.tolist() == [max(size - epoch - 1, 1) for size in sizes]
    distribution = controller.report_distribution(space)
    assert [sorted(distribution[d.key])[-1] for d in controller.decisions] == [1.0] * len(sizes)
    genotype = controller.derive_genotype(space)
    survivors = [d.choices[int(controller.alive[row].nonzero())] for row, d in enumerate(controller.decisions)]
    assert space.architecture_from_genotype(genotype).to_json(space.decisions()) == {
        d.key: [name] for d, name in zip(controller.decisions, survivors)
    }
