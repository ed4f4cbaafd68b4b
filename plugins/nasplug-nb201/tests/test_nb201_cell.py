"""The nas-bench-201 cell and network: wiring against the string notation, parameters against the table."""

import itertools
import random

import pytest
import torch

from nasplug import Architecture, ArchitectureError, DataShape
from nasplug_nb201 import Nb201Genotype, Nb201Space
from nasplug_nb201.genotype import CELLS, EDGES, PUBLISHED
from nasplug_nb201.network import Cell
from nasplug_nb201.table import load_table

CIFAR = DataShape(num_classes=10, in_channels=3, input_size=32)


def paths_to_output(ops):
    """Number of paths from node 0 to node 3 along edges whose op is not none (hand count)."""
    counts = {0: 1}
    for node in (1, 2, 3):
        counts[node] = sum(counts[source] for (target, source), op in zip(EDGES, ops)
                           if target == node and op != "none")
    return counts[3]


def test_string_notation_round_trips_and_orders_the_edges_as_the_benchmark():
    text = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    genotype = Nb201Genotype.from_string(text)
    assert genotype.ops == ("nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "skip_connect", "none",
                            "nor_conv_3x3")
    assert EDGES == ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
    assert genotype.to_string() == text
    assert Nb201Genotype.from_code(genotype.code) == genotype
    assert Nb201Space.parse_genotype(genotype.to_json(), "g.json") == genotype


def test_every_skip_none_cell_sums_its_paths_as_the_notation_says():
    """With skip/none ops, node 3 = x × (number of 0→3 paths): the cell's DAG, checked on all 64 cells."""
    x = torch.randn(2, 4, 5, 5)
    for choice in itertools.product(("none", "skip_connect"), repeat=6):
        edge_ops = {edge: (op,) for edge, op in zip(EDGES, choice) if op != "none"}
        cell = Cell(4, edge_ops, search=False)
        out = cell(x, {edge: [(op, None)] for edge, (op,) in edge_ops.items()})
        assert torch.allclose(out, paths_to_output(choice) * x), choice


def test_ops_are_placed_on_the_edge_the_notation_names():
    """One conv on edge (2←1), skips elsewhere: the conv's weights reach the output only through node 2."""
    genotype = Nb201Genotype.from_string(
        "|skip_connect~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|")
    net = Nb201Space(CIFAR, {}).build_network(genotype, {"cells": 1})
    cell = net.cells[0]
    assert [name for name, ops in cell.edges.items() if len(ops)] == ["1_0", "2_1", "3_2"]
    assert isinstance(cell.edges["2_1"]["nor_conv_3x3"][1], torch.nn.Conv2d)


def test_malformed_strings_and_foreign_ops_are_clear_errors():
    with pytest.raises(ArchitectureError, match="node 2 needs 2 edges"):
        Nb201Genotype.from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|+|none~0|none~1|none~2|")
    with pytest.raises(ArchitectureError, match="'max_pool_3x3' is not a NAS-Bench-201 op"):
        Nb201Genotype.from_string("|max_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    with pytest.raises(ArchitectureError, match="must be 'op~1'"):
        Nb201Genotype.from_string("|none~0|+|none~0|none~0|+|none~0|none~1|none~2|")
    with pytest.raises(ArchitectureError, match="1 node groups separated by .+., expected 3"):
        Nb201Genotype.from_string("|none~0|")


def test_parameters_match_the_tables_params_for_sampled_cells():
    """Networks of N = 5, C = 16 on CIFAR-10 against the table's params_M. About 1 % of the table's
    entries (150 of 15,625) disagree with every count of their cell's modules (docs/spaces/nas-bench-201.md):
    at most one of 40 sampled cells may be one of them."""
    table = load_table()
    space = Nb201Space(CIFAR, {})
    sampled = [Nb201Genotype.from_code(code) for code in random.Random(201).sample(range(CELLS), 40)]
    cells = [*PUBLISHED.values(), Nb201Genotype(("nor_conv_3x3",) * 6), *sampled]
    mismatched = []
    for genotype in cells:
        built = sum(p.numel() for p in space.build_network(genotype, {}).parameters()) / 1e6
        if abs(built - table.value(genotype, "params_M")) > 1e-6:
            mismatched.append(genotype.to_string())
    assert len(mismatched) <= 1, mismatched
    assert not set(mismatched) & {g.to_string() for g in cells[:4]}


def test_supernet_runs_any_cell_and_its_standalone_child_computes_the_same():
    space = Nb201Space(DataShape(10, 3, 8), {"cells": 1, "channels": 4})
    torch.manual_seed(0)
    supernet = space.build_supernet()
    genotype = Nb201Genotype.from_string(
        "|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    arch = space.architecture_from_genotype(genotype)
    child = space.build_supernet(only=arch)
    missing, unexpected = child.load_state_dict(supernet.state_dict(), strict=False)
    assert not missing and unexpected  # the child holds a strict subset of the supernet's weights
    x = torch.randn(4, 3, 8, 8)
    assert torch.allclose(supernet(x, arch), child(x, arch), atol=1e-6)
    gates = Architecture({d.key: tuple((i, 0.2) for i in range(5)) for d in space.decisions()})
    assert supernet(x, gates).shape == (4, 10)  # the DARTS mixture runs too
    with pytest.raises(ArchitectureError, match="not in this network"):
        child(x, space.architecture_from_genotype(PUBLISHED["NB201_DARTS"]))
    with pytest.raises(ArchitectureError, match="one op per edge"):
        space.build_supernet(only=gates)
    with pytest.raises(ArchitectureError, match="out of range"):
        space.build_supernet(only=Architecture.single_path({"edge 1<-0": 7}))
    with pytest.raises(ArchitectureError, match="not a nas-bench-201 decision"):
        space.build_supernet(only=Architecture.single_path({"normal/edge 2<-0": 1}))


def test_derivation_takes_each_edges_best_op_none_included_ties_to_the_earlier():
    space = Nb201Space(CIFAR, {})
    scores = {d.key: [0.0] * 5 for d in space.decisions()}
    scores["edge 1<-0"] = [0.9, 0.1, 0.0, 0.0, 0.0]
    scores["edge 3<-2"] = [0.0, 0.0, 0.0, 0.5, 0.5]
    genotype = space.genotype_from_scores(scores)
    assert genotype.ops[0] == "none" and genotype.ops[5] == "nor_conv_3x3" and genotype.ops[1] == "none"
    with pytest.raises(ArchitectureError, match="missing"):
        space.genotype_from_scores({"edge 1<-0": [1, 0, 0, 0, 0]})
    with pytest.raises(ArchitectureError, match="needs 5 numbers"):
        space.genotype_from_scores({**scores, "edge 2<-1": ["a", 1, 2, 3, 4]})
    with pytest.raises(ArchitectureError, match="outside 0..15624"):
        Nb201Genotype.from_code(5**6)
