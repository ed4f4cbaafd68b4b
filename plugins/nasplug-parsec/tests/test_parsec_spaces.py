"""PARSEC on the real spaces: the factorisation it picks, samples the supernet runs, the mode it derives."""

import math

import torch

from nasplug import Architecture, DataShape
from nasplug.core.options import resolve_options
from nasplug.spaces.darts_cell import DartsCellSpace
from nasplug.spaces.darts_cell.decisions import edge_paths
from nasplug.spaces.proxyless.space import ProxylessSpace
from nasplug_parsec import PARSEC


def controller(space, **options):
    return PARSEC(space, resolve_options(PARSEC.options, options, "parsec"), seed=0)


def randomise(parsec, seed):
    generator = torch.Generator().manual_seed(seed)
    for logits in parsec.prior.logits.values():
        logits.copy_(torch.randn(len(logits), generator=generator, dtype=torch.float64))


def mode(parsec):
    return Architecture.single_path({key: int(pi.argmax()) for key, pi in parsec.prior.logits.items()})


def ops_per_edge(arch):
    return {cell: {edge: sorted(op for op, _ in ops) for edge, ops in edges.items()}
            for cell, edges in edge_paths(arch).items()}


def test_darts_cell_slots_sampled_run_and_the_genotype_is_the_mode():
    space = DartsCellSpace(DataShape(10, 1, 8), {"layers": 3, "channels": 4, "stem_multiplier": 3})
    parsec = controller(space, samples=2)
    assert parsec.factorisation == "slot"
    probs = parsec.report_distribution()
    assert len(probs) == 16 and sorted({len(p) for p in probs.values()}) == [14, 21, 28, 35]
    # The paper's factorisation (Eq. 4–5): 7 non-none ops × predecessors, uniform at the start.
    assert "normal/node 3 slot 1" in probs
    assert not any(choice.startswith("none") for d in space.decisions("slot") for choice in d.choices)
    start = -sum(p * math.log(p) for row in probs.values() for p in row)
    assert math.isclose(start, sum(math.log(len(row)) for row in probs.values()))

    supernet = space.build_supernet()
    with torch.no_grad():
        for arch in parsec.sample_architecture():
            assert supernet(torch.randn(2, 1, 8, 8), arch).shape == (2, 10)

    randomise(parsec, seed=4)
    derived = parsec.derive_genotype(space)
    assert ops_per_edge(space.architecture_from_genotype(derived)) == ops_per_edge(mode(parsec))


def test_proxyless_one_categorical_per_block_and_the_genotype_is_the_mode():
    space = ProxylessSpace(DataShape(10, 3, 32), {})
    parsec = controller(space, samples=4)
    assert parsec.factorisation == "edge"
    assert list(parsec.report_distribution()) == [d.key for d in space.decisions()]
    for arch in parsec.sample_architecture():
        arch.validate(space.decisions())

    randomise(parsec, seed=5)
    assert space.architecture_from_genotype(parsec.derive_genotype(space)).choices() == mode(parsec).choices()
