"""EoiNAS on the real darts-cell supernet: one op per edge runs, α still learns."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nasplug import DataShape, Feedback, Step
from nasplug.core.options import resolve_options
from nasplug.spaces.darts_cell import DartsCellSpace
from nasplug_eoinas import EoiNAS


def test_only_the_sampled_op_of_each_edge_runs_and_alpha_gets_its_gradient():
    space = DartsCellSpace(DataShape(10, 1, 8), {"layers": 3, "channels": 4, "stem_multiplier": 3})
    controller = EoiNAS(space, resolve_options(EoiNAS.options, {"warmup": 0}, "eoinas"), 3)
    supernet = space.build_supernet()
    ran: dict[tuple[int, str, str], int] = {}
    for index, cell in enumerate(supernet.cells):
        for edge, ops in cell.edges.items():
            node, source = edge.split("_")
            key = f"{cell.cell_type}/edge {node}<-{source}"
            for name, op in ops.items():
                slot = (index, key, name)
                ran[slot] = 0
                op.register_forward_hook(lambda *_, slot=slot: ran.__setitem__(slot, ran[slot] + 1))

    step = Step(0, 0, 1, 1)
    [sample] = controller.sample_architecture(space, step)
    x, y = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 2, 3])
    loss = F.cross_entropy(supernet(x, sample), y)
    controller.record_feedback(space, [sample], [Feedback(loss.item(), 0.25, 0.0, 4, loss)], step)

    chosen = {d.key: d.choices[sample.choice(d.key)] for d in controller.decisions}
    assert ran and all(count == (chosen[key] == name) for (_, key, name), count in ran.items())
    for row, decision in enumerate(controller.decisions):
        gradient = controller.alpha.grad[row].abs().sum()
        # `none` has no module on darts-cell, so its gate never enters the graph (as 0·gate would give 0).
        assert (gradient > 0) == (chosen[decision.key] != "none"), decision.key
    assert all(p.grad is None for p in supernet.parameters())
