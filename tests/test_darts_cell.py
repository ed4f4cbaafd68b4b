"""The darts-cell space: decisions, supernet, derivation rule, genotypes and the evaluation network."""

import copy
import json
import re

import pytest
import torch

from nasplug.core.architecture import Architecture, ArchitectureError, GatedChoice
from nasplug.networks.cost import count_macs, count_parameters
from nasplug.core.options import OptionError
from nasplug.plugin import load_plugins
from nasplug.core.space import DataShape
from nasplug.spaces.darts_cell import DartsCellSpace
from nasplug.spaces.darts_cell.ops import OPERATIONS, PRIMITIVES, FactorizedReduce

DIGITS = DataShape(num_classes=10, in_channels=1, input_size=8)
SMALL_RGB = DataShape(num_classes=5, in_channels=3, input_size=16)
V2 = DartsCellSpace.published_genotypes()["DARTS_V2"]
SLOT_CHOICES = {d.key: d.choices for d in DartsCellSpace(DIGITS, {}).decisions("slot")}


def tiny_space(data=DIGITS, layers=3):
    return DartsCellSpace(data, {"layers": layers, "channels": 4})


def random_arch(space, factorisation="edge", seed=0):
    generator = torch.Generator().manual_seed(seed)
    return Architecture.single_path(
        {d.key: int(torch.randint(len(d), (), generator=generator)) for d in space.decisions(factorisation)}
    )


def edge_op_parameters(net):
    """{(cell index, "node_input", op): [parameter names]} for every op parameter of a supernet."""
    found = {}
    for name, _ in net.named_parameters():
        match = re.fullmatch(r"cells\.(\d+)\.edges\.(\d_\d)\.(\w+?)\..*", name)
        if match:
            found.setdefault((int(match[1]), match[2], match[3]), []).append(name)
    return found


def cell_types(net):
    return [cell.cell_type for cell in net.cells]


def ops_run_by(net, arch):
    """(cell index, "node_input", op) of every op ``arch`` runs, from the space's key grammar."""
    run = set()
    for key, paths in arch.paths.items():
        cell_type, rest = key.split("/")
        for path in paths:
            if rest.startswith("edge"):
                node, source = re.fullmatch(r"edge (\d)<-(\d)", rest).groups()
                op = PRIMITIVES[path.choice]
            else:
                node = re.fullmatch(r"node (\d) slot \d", rest)[1]
                op, source = SLOT_CHOICES[key][path.choice].split("<-")
            if op != "none":
                run.update(
                    (i, f"{node}_{source}", op) for i, t in enumerate(cell_types(net)) if t == cell_type
                )
    return run


# --------------------------------------------------------------------------- decisions


def test_edge_decisions_are_the_darts_edges_with_the_eight_primitives():
    decisions = tiny_space().decisions()
    assert len(decisions) == 28
    keys = [d.key for d in decisions]
    assert keys[:5] == [
        "normal/edge 2<-0",
        "normal/edge 2<-1",
        "normal/edge 3<-0",
        "normal/edge 3<-1",
        "normal/edge 3<-2",
    ]
    assert keys[14] == "reduce/edge 2<-0" and keys[-1] == "reduce/edge 5<-4"
    assert all(d.choices == PRIMITIVES for d in decisions)
    assert PRIMITIVES[0] == "none" and PRIMITIVES[3] == "skip_connect" and len(PRIMITIVES) == 8


def test_slot_decisions_pair_an_input_with_a_non_none_op():
    space = tiny_space()
    assert space.factorisations == ("edge", "slot")
    decisions = {d.key: d for d in space.decisions("slot")}
    assert len(decisions) == 16
    node2 = decisions["normal/node 2 slot 0"]
    assert len(node2) == 2 * 7
    assert node2.choices[:2] == ("max_pool_3x3<-0", "avg_pool_3x3<-0")
    assert node2.choices[7] == "max_pool_3x3<-1"
    assert len(decisions["reduce/node 5 slot 1"]) == 5 * 7
    assert not any(choice.startswith("none") for d in decisions.values() for choice in d.choices)
    with pytest.raises(ArchitectureError, match="no factorisation 'cell'.*edge, slot"):
        space.decisions("cell")


def test_options_are_resolved_and_checked():
    assert DartsCellSpace(DIGITS, {}).config == {"layers": 8, "channels": 16, "stem_multiplier": 3,
                                                 "reductions": "auto"}
    with pytest.raises(OptionError, match="unknown option width"):
        DartsCellSpace(DIGITS, {"width": 3})
    with pytest.raises(OptionError, match="'layers'.*at least 1, got 0"):
        DartsCellSpace(DIGITS, {"layers": "0"})


def test_space_is_registered_as_a_builtin_plugin():
    space = load_plugins(load_entry_points=False).build_space("darts-cell", DIGITS, {"layers": "3"})
    assert isinstance(space, DartsCellSpace) and space.config["layers"] == 3


# --------------------------------------------------------------------------- supernet


@pytest.mark.parametrize(
    ("data", "layers", "factorisation"), [(DIGITS, 3, "edge"), (SMALL_RGB, 5, "slot"), (SMALL_RGB, 4, "edge")]
)
def test_supernet_forward_shapes(data, layers, factorisation):
    space = tiny_space(data, layers)
    net = space.build_supernet()
    assert cell_types(net).count("reduce") == 2
    x = torch.randn(3, data.in_channels, data.input_size, data.input_size)
    assert net(x, random_arch(space, factorisation)).shape == (3, data.num_classes)


def test_absent_edges_contribute_nothing():
    net = tiny_space().build_supernet()
    logits = net(torch.randn(4, 1, 8, 8), Architecture({}))
    # every node is zero, so every cell output and the pooled features are zero: logits = bias
    torch.testing.assert_close(logits, net.classifier.bias.expand(4, -1))
    none_only = Architecture.single_path({d.key: 0 for d in tiny_space().decisions()})
    torch.testing.assert_close(net(torch.randn(4, 1, 8, 8), none_only), logits)


def test_only_sampled_ops_get_gradients():
    space = tiny_space()
    net = space.build_supernet()
    arch = random_arch(space, seed=3)
    net(torch.randn(4, 1, 8, 8), arch).logsumexp(1).sum().backward()
    sampled = ops_run_by(net, arch)
    params = dict(net.named_parameters())
    with_grad = {op for op, names in edge_op_parameters(net).items() if params[names[0]].grad is not None}
    assert with_grad == {op for op in sampled if op in edge_op_parameters(net)}
    assert with_grad  # the seed samples parametric ops
    assert net.stem[0].weight.grad is not None


def test_straight_through_gate_receives_gradient_while_one_op_runs():
    space = tiny_space()
    net = space.build_supernet()
    alpha = torch.zeros(8, requires_grad=True)
    probs = torch.softmax(alpha, 0)
    chosen = PRIMITIVES.index("sep_conv_3x3")
    hard = torch.nn.functional.one_hot(torch.tensor(chosen), 8) - probs.detach() + probs  # GDAS
    # the reduction cells (layers 1, 2) need an edge too, or nothing reaches the classifier
    arch = Architecture({"normal/edge 2<-0": [GatedChoice(chosen, hard[chosen])], "reduce/edge 2<-1": [chosen]})
    assert arch.requires_grad()
    net(torch.randn(4, 1, 8, 8), arch).pow(2).sum().backward()
    assert alpha.grad is not None and alpha.grad.abs().sum() > 0
    params = dict(net.named_parameters())
    with_grad = {op for op, names in edge_op_parameters(net).items() if params[names[0]].grad is not None}
    assert with_grad == {(0, "2_0", "sep_conv_3x3"), (1, "2_1", "sep_conv_3x3"), (2, "2_1", "sep_conv_3x3")}


def test_softmax_mixture_trains_every_op_and_alpha():
    space = tiny_space()
    net = space.build_supernet()
    alpha = torch.randn(28, 8, requires_grad=True)
    weights = torch.softmax(alpha, dim=1)
    arch = Architecture(
        {d.key: [GatedChoice(c, weights[i, c]) for c in range(8)] for i, d in enumerate(space.decisions())}
    )
    net(torch.randn(4, 1, 8, 8), arch).pow(2).sum().backward()
    assert alpha.grad is not None and bool((alpha.grad[:, 1:] != 0).all())
    assert all(p.grad is not None for p in net.parameters())


def test_one_hot_mixture_equals_the_single_path():
    space = tiny_space()
    net = space.build_supernet()
    single = random_arch(space, seed=5)
    mixture = Architecture(
        {key: [GatedChoice(c, float(c == index)) for c in range(8)] for key, (index,) in single.choices().items()}
    )
    x = torch.randn(4, 1, 8, 8)
    torch.testing.assert_close(net(x, mixture), net(x, single))


def test_slot_choices_run_the_shared_edge_ops():
    space = tiny_space()
    net = space.build_supernet()
    slot = {d.key: d for d in space.decisions("slot")}
    arch = Architecture(
        {
            "normal/node 3 slot 0": [slot["normal/node 3 slot 0"].index("sep_conv_5x5<-1")],
            "normal/node 3 slot 1": [slot["normal/node 3 slot 1"].index("dil_conv_3x3<-2")],
            "reduce/node 2 slot 1": [slot["reduce/node 2 slot 1"].index("sep_conv_3x3<-1")],
        }
    )
    same_edges = Architecture.from_names(
        space.decisions(),
        {
            "normal/edge 3<-1": "sep_conv_5x5",
            "normal/edge 3<-2": "dil_conv_3x3",
            "reduce/edge 2<-1": "sep_conv_3x3",
        },
    )
    x = torch.randn(4, 1, 8, 8)
    out = net(x, arch)
    torch.testing.assert_close(out, net(x, same_edges))
    out.pow(2).sum().backward()
    params = dict(net.named_parameters())
    with_grad = {op for op, names in edge_op_parameters(net).items() if params[names[0]].grad is not None}
    assert with_grad == {
        (0, "3_1", "sep_conv_5x5"),
        (0, "3_2", "dil_conv_3x3"),
        (1, "2_1", "sep_conv_3x3"),
        (2, "2_1", "sep_conv_3x3"),
    }


def test_two_slots_on_one_edge_run_the_op_twice():
    space = tiny_space()
    net = space.build_supernet()
    choice = space.decisions("slot")[0].index("sep_conv_3x3<-0")
    twice = Architecture.single_path({"normal/node 2 slot 0": choice, "normal/node 2 slot 1": choice})
    both_paths = Architecture({"normal/edge 2<-0": [4, 4]})
    x = torch.randn(2, 1, 8, 8)
    torch.testing.assert_close(net(x, twice), net(x, both_paths))


def test_bad_architectures_are_rejected():
    net = tiny_space().build_supernet()
    x = torch.randn(2, 1, 8, 8)
    with pytest.raises(ArchitectureError, match="unknown darts-cell keys: 'normal/edge 6<-0'"):
        net(x, Architecture({"normal/edge 6<-0": [1]}))
    with pytest.raises(ArchitectureError, match="mixes edge keys and slot keys"):
        net(x, Architecture({"normal/edge 2<-0": [1], "normal/node 2 slot 0": [1]}))
    with pytest.raises(ArchitectureError, match="choice 8 out of range for 'reduce/edge 2<-1'"):
        net(x, Architecture({"reduce/edge 2<-1": [8]}))


def test_only_child_holds_the_sampled_ops_and_computes_the_same():
    space = tiny_space(SMALL_RGB, 4)
    supernet = space.build_supernet()
    arch = random_arch(space, seed=11)
    child = space.build_supernet(only=arch)
    sampled = ops_run_by(supernet, arch)
    shared = {name for name, _ in supernet.named_parameters() if ".edges." not in name}
    sampled_ops = {
        name for op, names in edge_op_parameters(supernet).items() if op in sampled for name in names
    }
    expected = shared | sampled_ops
    assert {name for name, _ in child.named_parameters()} == expected
    assert count_parameters(child)[0] < count_parameters(supernet)[0]
    weights = supernet.state_dict()
    child.load_state_dict({key: weights[key] for key in child.state_dict()})
    x = torch.randn(3, 3, 16, 16)
    torch.testing.assert_close(child(x, arch), supernet(x, arch))
    missing = next(op for op in OPERATIONS if op != PRIMITIVES[arch.choice("normal/edge 2<-0")])
    with pytest.raises(ArchitectureError, match=f"normal/edge 2<-0: op '{missing}' is not in this network"):
        child(x, Architecture.from_names(space.decisions(), {"normal/edge 2<-0": missing}))


# --------------------------------------------------------------------------- derivation rule


def edge_row(default=0.125, **ops):
    return [ops.get(name, default) for name in PRIMITIVES]


def test_edge_scores_keep_the_two_best_inputs_by_best_non_none_op():
    scores = {d.key: edge_row() for d in tiny_space().decisions()}
    scores["normal/edge 2<-1"] = edge_row(sep_conv_5x5=0.6)
    scores["normal/edge 3<-0"] = edge_row(0.01, none=0.93)  # none-heavy: its best real op is weak
    scores["normal/edge 3<-2"] = edge_row(dil_conv_3x3=0.4)
    scores["normal/edge 4<-1"] = edge_row(skip_connect=0.5, dil_conv_5x5=0.5)  # op tie → skip_connect
    scores["normal/edge 4<-3"] = edge_row(sep_conv_3x3=0.5)  # input tie with 4<-1 → input 1 first
    scores["reduce/edge 5<-4"] = edge_row(avg_pool_3x3=0.9)
    genotype = tiny_space().genotype_from_scores(scores)
    assert genotype.normal == (
        ("sep_conv_5x5", 1), ("max_pool_3x3", 0),
        ("dil_conv_3x3", 2), ("max_pool_3x3", 1),
        ("skip_connect", 1), ("sep_conv_3x3", 3),
        ("max_pool_3x3", 0), ("max_pool_3x3", 1),
    )  # fmt: skip
    assert genotype.reduce == (("max_pool_3x3", 0), ("max_pool_3x3", 1)) * 3 + (
        ("avg_pool_3x3", 4),
        ("max_pool_3x3", 0),
    )
    assert genotype.normal_concat == genotype.reduce_concat == (2, 3, 4, 5)


def test_slot_scores_take_the_mode_of_each_slot():
    space = tiny_space()
    scores = {d.key: [0.0] * len(d) for d in space.decisions("slot")}
    node3 = space.decisions("slot")[2].choices
    scores["normal/node 3 slot 1"][node3.index("sep_conv_3x3<-2")] = 1.0
    scores["normal/node 3 slot 0"][node3.index("skip_connect<-1")] = 1.0
    scores["normal/node 3 slot 0"][node3.index("sep_conv_5x5<-1")] = 1.0  # tie → the lower index
    genotype = space.genotype_from_scores(scores)
    assert genotype.normal[2:4] == (("skip_connect", 1), ("sep_conv_3x3", 2))
    assert genotype.normal[:2] == genotype.reduce[:2] == (("max_pool_3x3", 0), ("max_pool_3x3", 0))


def test_score_tables_that_do_not_fit_are_rejected():
    space = tiny_space()
    edge = {d.key: [0.1] * 8 for d in space.decisions()}
    with pytest.raises(ArchitectureError, match="mixes edge keys and slot keys"):
        space.genotype_from_scores({**edge, "normal/node 2 slot 0": [0.0] * 14})
    with pytest.raises(ArchitectureError, match="unknown darts-cell keys: 'block 3'"):
        space.genotype_from_scores({**edge, "block 3": [1.0]})
    partial = dict(edge)
    del partial["reduce/edge 4<-2"]
    with pytest.raises(ArchitectureError, match="lacks 1 edge decisions, e.g. 'reduce/edge 4<-2'"):
        space.genotype_from_scores(partial)
    with pytest.raises(ArchitectureError, match="'normal/edge 2<-0' have 7 entries, expected 8"):
        space.genotype_from_scores({**edge, "normal/edge 2<-0": [0.1] * 7})


def test_indicator_scores_of_a_genotype_derive_it_back():
    space = tiny_space()
    for genotype in space.published_genotypes().values():
        chosen = space.architecture_from_genotype(genotype).choices()
        indicator = {d.key: [float(i in chosen.get(d.key, ())) for i in range(8)] for d in space.decisions()}
        derived = space.genotype_from_scores(indicator)
        for cell in ("normal", "reduce"):
            for node in range(4):
                pair = genotype.cell(cell)[0][2 * node : 2 * node + 2]
                assert pair[0][1] != pair[1][1]  # published cells read two different inputs per node
                # equal scores rank the lower input first
                assert derived.cell(cell)[0][2 * node : 2 * node + 2] == tuple(
                    sorted(pair, key=lambda e: e[1])
                )


# --------------------------------------------------------------------------- genotypes


def test_published_genotypes():
    published = DartsCellSpace.published_genotypes()
    assert set(published) == {"DARTS_V1", "DARTS_V2", "MDENAS", "EOINAS"}
    assert published["DARTS_V1"].normal[7] == ("skip_connect", 2)
    assert published["MDENAS"].normal[7] == ("max_pool_3x3", 4)
    assert published["EOINAS"].reduce[0] == ("sep_conv_3x3", 0)


@pytest.mark.parametrize("name", ["DARTS_V1", "DARTS_V2", "MDENAS", "EOINAS"])
def test_genotype_json_round_trip(name):
    genotype = DartsCellSpace.published_genotypes()[name]
    data = json.loads(json.dumps(genotype.to_json()))
    assert data["space"] == "darts-cell" and data["normal"][0] == list(genotype.normal[0])
    assert data["normal_concat"] == [2, 3, 4, 5]
    assert DartsCellSpace.parse_genotype(data, "g.json") == genotype


def test_concat_may_be_omitted():
    data = V2.to_json()
    del data["normal_concat"], data["reduce_concat"], data["space"]
    assert DartsCellSpace.parse_genotype(data, "g.json") == V2


def with_entry(cell, index, value):
    def change(data):
        data[cell][index] = value

    return change


def with_key(key, value):
    def change(data):
        data[key] = value

    return change


def without(key):
    def change(data):
        del data[key]

    return change


def one_entry_short(data):
    data["normal"].pop()


VALID_OPS = "max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5"
ENTRY_TYPES = "must be [op, input] with a string op and an integer input, got"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (with_entry("normal", 3, ["sep_conv_7x7", 1]),
         f"'normal' entry 3 (node 3): unknown op 'sep_conv_7x7'; valid ops: {VALID_OPS}"),
        (with_entry("reduce", 1, ["none", 1]), "'reduce' entry 1 (node 2): unknown op 'none'"),
        (with_entry("reduce", 4, ["skip_connect", 4]), "'reduce' entry 4 (node 4): input 4 must be in 0..3"),
        (with_entry("normal", 0, ["skip_connect", -1]),
         "'normal' entry 0 (node 2): input -1 must be in 0..1"),
        (one_entry_short, "'normal' has 7 entries, expected 8 (2 per intermediate node 2..5)"),
        (with_entry("normal", 2, ["sep_conv_3x3", "1"]),
         f"'normal' entry 2 (node 3) {ENTRY_TYPES} ('sep_conv_3x3', '1')"),
        (with_entry("normal", 2, ["sep_conv_3x3", True]), f"'normal' entry 2 (node 3) {ENTRY_TYPES}"),
        (with_entry("normal", 2, "sep_conv_3x3"), f"'normal' entry 2 (node 3) {ENTRY_TYPES}"),
        (with_key("reduce", "max_pool_3x3"), "'reduce' must be a list of 8 [op, input] pairs, got str"),
        (with_key("normal_concat", [2, 3, 6]),
         "'normal_concat' is [2, 3, 6]; expected a non-empty list of distinct intermediate nodes "
         "from [2, 3, 4, 5]"),
        (with_key("reduce_concat", []), "'reduce_concat' is []"),
        (with_key("reduce_concat", [2, 2]), "'reduce_concat' is [2, 2]"),
        (with_key("reduce_concat", "2345"), "'reduce_concat' is '2345'"),
        (with_key("space", "proxyless-mbv2"), "genotype of space 'proxyless-mbv2', not 'darts-cell'"),
        (with_key("normall", []), "unknown genotype entries 'normall'; expected space, normal"),
        (without("reduce"), "missing 'reduce'"),
    ],
)  # fmt: skip
def test_genotype_validation_errors(change, message):
    data = copy.deepcopy(V2.to_json())
    change(data)
    with pytest.raises(ArchitectureError) as error:
        DartsCellSpace.parse_genotype(data, "g.json")
    assert str(error.value).startswith(f"g.json: {message}")


def test_genotype_must_be_an_object():
    with pytest.raises(ArchitectureError, match="^x.json: expected a JSON object, got list"):
        DartsCellSpace.parse_genotype([["sep_conv_3x3", 0]], "x.json")


def test_architecture_from_genotype_uses_only_the_genotype_edges():
    arch = tiny_space().architecture_from_genotype(V2)
    assert arch.to_json(tiny_space().decisions()) == {
        "normal/edge 2<-0": ["sep_conv_3x3"], "normal/edge 2<-1": ["sep_conv_3x3"],
        "normal/edge 3<-0": ["sep_conv_3x3"], "normal/edge 3<-1": ["sep_conv_3x3"],
        "normal/edge 4<-1": ["sep_conv_3x3"], "normal/edge 4<-0": ["skip_connect"],
        "normal/edge 5<-0": ["skip_connect"], "normal/edge 5<-2": ["dil_conv_3x3"],
        "reduce/edge 2<-0": ["max_pool_3x3"], "reduce/edge 2<-1": ["max_pool_3x3"],
        "reduce/edge 3<-2": ["skip_connect"], "reduce/edge 3<-1": ["max_pool_3x3"],
        "reduce/edge 4<-0": ["max_pool_3x3"], "reduce/edge 4<-2": ["skip_connect"],
        "reduce/edge 5<-2": ["skip_connect"], "reduce/edge 5<-1": ["max_pool_3x3"],
    }  # fmt: skip
    child = tiny_space().build_supernet(only=arch)
    assert sum(len(edge) for edge in child.cells[0].edges.values()) == 8
    assert child(torch.randn(2, 1, 8, 8), arch).shape == (2, 10)


def test_describe_names_inputs_node_by_node():
    text = DartsCellSpace.describe(V2)
    lines = text.splitlines()
    assert lines[0] == "normal cell (output = concat of nodes 2, 3, 4, 5):"
    assert lines[1] == "  node 2 = sep_conv_3x3(c_{k-2}) + sep_conv_3x3(c_{k-1})"
    assert lines[4] == "  node 5 = skip_connect(c_{k-2}) + dil_conv_3x3(node 2)"
    assert lines[5].startswith("reduction cell") and len(lines) == 10


# --------------------------------------------------------------------------- evaluation network


@pytest.mark.parametrize(("size", "stem"), [(8, "auto"), (16, "cifar"), (32, "cifar"), (32, "imagenet")])
def test_eval_network_train_and_eval_outputs(size, stem):
    data = DataShape(10, 1, size)
    net = DartsCellSpace(data, {}).build_network(
        V2, {"layers": 3, "channels": 4, "drop_path": 0.3, "stem": stem}
    )
    x = torch.randn(4, 1, size, size)
    net.train()
    logits, aux = net(x)
    assert logits.shape == (4, 10)
    if stem == "imagenet":  # 32 px → 1×1 maps at 2/3 depth: too small for the head, so none is built
        assert aux is None and net.auxiliary is None
    else:
        assert aux.shape == (4, 10) and count_parameters(net)[1] > 0
    net.eval()
    assert net(x).shape == (4, 10)


def test_drop_path_is_random_in_training_only():
    net = DartsCellSpace(DIGITS, {}).build_network(V2, {"layers": 3, "channels": 4, "auxiliary": False})
    x = torch.randn(8, 1, 8, 8)
    torch.manual_seed(0)
    net.train()
    net.drop_path_prob = 0.5
    first, aux = net(x)
    assert aux is None
    assert not torch.allclose(first, net(x)[0])
    net.drop_path_prob = 0.0
    torch.testing.assert_close(net(x)[0], net(x)[0])
    net.drop_path_prob = 0.5
    net.eval()
    torch.testing.assert_close(net(x), net(x))


def test_network_options_are_checked():
    space = DartsCellSpace(DIGITS, {})
    with pytest.raises(OptionError, match="'drop_path' must be in"):
        space.build_network(V2, {"drop_path": 1.0})
    with pytest.raises(OptionError, match="'stem' must be one of auto, cifar, imagenet"):
        space.build_network(V2, {"stem": "mnist"})


@pytest.mark.parametrize(
    ("data", "options", "expected"),
    [
        (DataShape(10, 3, 32), {}, 3_349_342),
        (DataShape(1000, 3, 224), {"layers": 14, "channels": 48}, 4_718_752),
    ],
)
def test_darts_v2_parameter_counts_match_the_paper(data, options, expected):
    with torch.device("meta"):  # counting needs shapes only
        net = DartsCellSpace(data, {}).build_network(V2, options)
    main, auxiliary = count_parameters(net)
    assert abs(main - expected) <= expected * 1e-3
    assert auxiliary > 0  # the head exists but is not counted


def test_the_mdenas_cell_on_imagenet_in_the_mobile_setting_against_table_2():
    # The recipe mdenas-cell-imagenet-eval (MdeNAS §5.4, Table 2): 14 cells of C = 48 in the authors'
    # released ImageNet layout stay within the mobile setting's 600 M multiply-adds. Table 2 gives
    # 6.1 M parameters for the paper's cell; the released cell (the MDENAS genotype) has 5.33 M.
    imagenet = DataShape(1000, 3, 224)
    options = {"layers": 14, "channels": 48, "stem": "imagenet", "reductions": "auto"}
    mdenas = DartsCellSpace.published_genotypes()["MDENAS"]
    with torch.device("meta"):  # counting needs shapes only
        net = DartsCellSpace(imagenet, {}).build_network(mdenas, options)
    assert count_parameters(net)[0] == 5_325_760
    assert count_macs(net, imagenet) == 595_513_536 <= 600_000_000
    # The other reading of §5.4, reductions at cells 1, 2, 6 and 10 after two stride-2 convs, doubles
    # the channels four times: at C = 48 it is ten times Table 2's size.
    with torch.device("meta"):
        four = DartsCellSpace(imagenet, {}).build_network(mdenas, {**options, "stem": "mobile",
                                                                   "reductions": "1,2,6,10"})
    assert count_parameters(four)[0] > 50_000_000


def test_the_evaluation_network_takes_reduction_positions_and_the_mobile_stem():
    space = DartsCellSpace(DataShape(10, 3, 64), {})
    net = space.build_network(V2, {"layers": 6, "channels": 4, "stem": "mobile", "reductions": "1,2",
                                   "auxiliary": False})
    sizes = []
    for cell in net.cells:
        cell.register_forward_hook(lambda module, inputs, output: sizes.append(output.shape[-1]))
    assert net.eval()(torch.randn(2, 3, 64, 64)).shape == (2, 10)
    assert sizes == [16, 8, 4, 4, 4, 4]  # two stride-2 convs (64 → 16), then cells 1 and 2 reduce
    with pytest.raises(OptionError, match="'reductions'.*index 6 is not one of the 6 cells"):
        space.build_network(V2, {"layers": 6, "reductions": "2,6"})


def test_factorized_reduce_matches_darts_on_even_sizes_and_handles_odd_ones():
    reduce = FactorizedReduce(4, 6, affine=False)
    x = torch.randn(2, 4, 8, 8)
    relu = torch.relu(x)
    darts = torch.cat([reduce.conv_1(relu), reduce.conv_2(relu[:, :, 1:, 1:])], dim=1)
    torch.testing.assert_close(reduce(x), reduce.bn(darts))
    assert reduce(torch.randn(2, 4, 7, 7)).shape == (2, 6, 4, 4)


def test_reduction_cells_sit_where_the_option_puts_them():
    def cell_types(**options):
        net = DartsCellSpace(DIGITS, {"layers": 6, "channels": 4, **options}).build_supernet()
        return "".join(cell.cell_type[0] for cell in net.cells)

    assert cell_types() == "nnrnrn"  # DARTS: 6 // 3 = 2 and 2 * 6 // 3 = 4
    assert cell_types(reductions="1,2") == "nrrnnn"  # MdeNAS §5.1.2: the second and third cells
    with pytest.raises(OptionError, match="'reductions'.*index 6 is not one of the 6 cells"):
        DartsCellSpace(DIGITS, {"layers": 6, "reductions": "2,6"})
    with pytest.raises(OptionError, match="'reductions'.*'auto' or comma-separated"):
        DartsCellSpace(DIGITS, {"reductions": "second"})


def test_the_mobile_stem_builds_only_its_two_convs():
    # No ImageNetStem built and cut down: the RNG draws are the two convs' and nothing more.
    from nasplug.spaces.darts_cell.network import MobileStem, quarter_stem

    torch.manual_seed(0)
    stem = MobileStem(3, 8)
    after_stem = torch.rand(1)
    torch.manual_seed(0)
    convs = quarter_stem(3, 8)
    assert torch.equal(torch.rand(1), after_stem)
    assert all(torch.equal(a, b) for a, b in zip(stem.state_dict().values(), convs.state_dict().values()))
