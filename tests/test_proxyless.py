"""The proxyless-mbv2 space: decisions, supernet paths and gradients, genotypes, published nets."""

import json

import pytest
import torch
from timm.models._efficientnet_blocks import DepthwiseSeparableConv, InvertedResidual

from nasplug.core.architecture import Architecture, ArchitectureError, GatedChoice
from nasplug.networks.genotypes import load_genotype
from nasplug.networks.cost import model_cost
from nasplug.core.options import OptionError
from nasplug.plugin import load_plugins
from nasplug.core.space import DataShape
from nasplug.spaces.proxyless import ProxylessGenotype, ProxylessSpace
from nasplug.spaces.proxyless.skeleton import SKELETONS

DIGITS = DataShape(num_classes=10, in_channels=1, input_size=8)
SMALL = DataShape(num_classes=5, in_channels=3, input_size=16)
IMAGENET = DataShape(num_classes=1000, in_channels=3, input_size=224)
SIX = ("3x3_MBConv3", "3x3_MBConv6", "5x5_MBConv3", "5x5_MBConv6", "7x7_MBConv3", "7x7_MBConv6")
STAGE_STARTS = (1, 5, 9, 13, 17, 21)
GPU = ProxylessSpace.published_genotypes()["proxyless_gpu"]


def tiny_space(data=DIGITS, **options):
    return ProxylessSpace(data, {"width_mult": 0.25, **options})


def random_arch(space, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return Architecture.single_path(
        {d.key: int(torch.randint(len(d), (), generator=generator)) for d in space.decisions()}
    )


def chosen_names(space, arch):
    by_key = {d.key: d for d in space.decisions()}
    return {key: [by_key[key].choices[p.choice] for p in paths] for key, paths in arch.paths.items()}


# --------------------------------------------------------------------------- decisions and options


def test_decisions_offer_zero_only_after_the_first_block_of_a_stage():
    decisions = ProxylessSpace(DIGITS, {}).decisions()
    assert [d.key for d in decisions] == [f"block {i}" for i in range(1, 22)]
    for index, decision in enumerate(decisions, start=1):
        expected = SIX if index in STAGE_STARTS else SIX + ("zero",)
        assert decision.choices == expected, decision.key


def test_allow_zero_false_removes_zero_everywhere():
    assert all("zero" not in d.choices for d in tiny_space(allow_zero=False).decisions())


def test_published_skeleton_keeps_its_depth():
    space = tiny_space(skeleton="proxyless_gpu", allow_zero="false", expansions="1,3,6")
    keys = [d.key for d in space.decisions()]
    assert keys == [f"block {i}" for i in range(1, 22) if i not in (2, 3, 4, 6, 7, 10, 11, 14)]
    assert space.decisions()[0].choices == (
        "3x3_MBConv1", "3x3_MBConv3", "3x3_MBConv6", "5x5_MBConv1", "5x5_MBConv3", "5x5_MBConv6",
        "7x7_MBConv1", "7x7_MBConv3", "7x7_MBConv6",
    )
    assert space.layout.stem_width == 16 and space.layout.blocks[0].out_chs == 8  # 40 and 32 × 0.25, rounded


def test_expansion_one_is_a_depthwise_separable_block_without_expand_conv():
    space = tiny_space(kernels="3", expansions="1,6", allow_zero=False)
    net = space.build_supernet()
    block = net.blocks["2"]
    assert isinstance(block.candidates["3x3_MBConv1"], DepthwiseSeparableConv)
    assert isinstance(block.candidates["3x3_MBConv6"], InvertedResidual)
    weights = [p.shape for p in block.candidates["3x3_MBConv1"].parameters() if p.dim() == 4]
    assert weights == [torch.Size([8, 1, 3, 3]), torch.Size([8, 8, 1, 1])]  # depthwise, then project


@pytest.mark.parametrize(
    "options, message",
    [
        ({"kernels": "3,4"}, "odd positive"),
        ({"kernels": "3,3"}, "repeats"),
        ({"expansions": "3,x"}, "comma-separated integers"),
        ({"expansions": "0"}, "positive"),
        ({"expansions": ","}, "empty"),
        ({"width_mult": "0"}, "positive"),
        ({"stem": "huge"}, "must be one of"),
        ({"skeleton": "resnet"}, "must be one of"),
        ({"colour": "red"}, "unknown option"),
    ],
)
def test_bad_space_options_are_one_line_errors(options, message):
    with pytest.raises(OptionError, match=message):
        ProxylessSpace(DIGITS, options)


@pytest.mark.parametrize(
    "data, stem, strides, final_size",
    [(DIGITS, "auto", (1, 1), 1), (SMALL, "auto", (1, 1), 2), (SMALL, "imagenet", (2, 2), 1)],
)
def test_stem_choice_sets_the_early_downsampling(data, stem, strides, final_size):
    space = tiny_space(data, stem=stem)
    assert (space.layout.stem_stride, space.layout.blocks[0].stride) == strides
    net = space.build_supernet()
    features = net.first(net.stem(torch.randn(2, data.in_channels, data.input_size, data.input_size)))
    for block in net.blocks.values():
        features = block(features, (GatedChoice(0),))
    assert features.shape[-1] == final_size


def test_space_is_registered_and_published_nets_resolve_by_name():
    hooks = load_plugins(load_entry_points=False)
    entry = hooks.space_entry("proxyless-mbv2")
    assert entry.cls is ProxylessSpace
    _, genotype = load_genotype("proxyless_cpu", hooks, "proxyless-mbv2")
    assert genotype.skeleton.feature_mix == 1432


# --------------------------------------------------------------------------- supernet


def test_only_sampled_candidates_receive_gradients():
    space = tiny_space()
    net = space.build_supernet()
    arch = random_arch(space, seed=3)
    chosen = chosen_names(space, arch)
    assert any(names == ["zero"] for names in chosen.values())  # the seed samples some skipped blocks
    net(torch.randn(4, 1, 8, 8), arch).sum().backward()
    for block in net.blocks.values():
        for name, candidate in block.candidates.items():
            grads = [p.grad for p in candidate.parameters()]
            if name in chosen[block.key]:
                assert all(g is not None for g in grads), (block.key, name)
            else:
                assert all(g is None for g in grads), (block.key, name)
    shared = [net.stem, net.first, net.feature_mix, net.classifier]
    assert all(p.grad is not None for module in shared for p in module.parameters())


def test_zero_skips_the_block_and_absent_keys_mean_zero():
    space = tiny_space()
    net = space.build_supernet().eval()
    x = torch.randn(2, 1, 8, 8)
    zero = {d.key: len(d) - 1 for d in space.decisions() if d.choices[-1] == "zero"}
    ops = {d.key: 0 for d in space.decisions() if d.choices[-1] != "zero"}
    skipped = net(x, Architecture.single_path({**ops, **zero}))
    assert torch.equal(skipped, net(x, Architecture.single_path(ops)))
    # block 1 keeps its shape here (8 → 8 channels, stride 1), so it may go absent; block 5 halves the map
    with pytest.raises(ArchitectureError, match="block 5 has no shortcut"):
        net(x, Architecture.single_path({"block 2": 0}))


def test_straight_through_gate_runs_one_candidate_and_gets_a_gradient():
    space = tiny_space()
    net = space.build_supernet().eval()
    x = torch.randn(2, 1, 8, 8)
    choices = {d.key: 1 for d in space.decisions()}
    gate = torch.ones((), requires_grad=True)
    zero_gate = torch.ones((), requires_grad=True)
    gated = {key: (GatedChoice(index),) for key, index in choices.items()}
    gated["block 6"] = (GatedChoice(1, gate),)
    gated["block 7"] = (GatedChoice(6, zero_gate),)  # zero
    choices["block 7"] = 6
    out = net(x, Architecture(gated))
    assert torch.allclose(out, net(x, Architecture.single_path(choices)))
    out.sum().backward()
    assert gate.grad is not None and gate.grad.abs() > 0
    assert zero_gate.grad == 0  # the skipped branch is empty: in the graph, nothing to learn from it
    assert all(p.grad is None for p in net.blocks["6"].candidates["3x3_MBConv3"].parameters())


def test_softmax_mixture_is_shortcut_plus_weighted_branches_and_reaches_alpha():
    space = tiny_space()
    net = space.build_supernet().eval()
    block = net.blocks["2"]
    alpha = torch.randn(len(block.choices), requires_grad=True)
    weights = torch.softmax(alpha, 0)
    x = torch.randn(2, 8, 8, 8)
    mixed = block(x, tuple(GatedChoice(i, weights[i]) for i in range(len(block.choices))))
    expected = x + sum(weights[i] * block.candidates[name](x) for i, name in enumerate(SIX))
    assert torch.allclose(mixed, expected, atol=1e-6)

    mixture = Architecture(
        {
            d.key: tuple(GatedChoice(i, w) for i, w in enumerate(torch.softmax(alpha[: len(d)], 0)))
            for d in space.decisions()
        }
    )
    net(torch.randn(2, 1, 8, 8), mixture).sum().backward()
    assert alpha.grad is not None and alpha.grad.abs().sum() > 0
    assert all(p.grad is not None for p in net.blocks.parameters())


def test_only_child_holds_the_chosen_candidates_and_computes_the_same():
    space = tiny_space(SMALL)
    supernet = space.build_supernet()
    arch = random_arch(space, seed=1)
    child = space.build_supernet(only=arch)
    missing, unexpected = child.load_state_dict(supernet.state_dict(), strict=False)
    assert not missing and unexpected
    kept = {block.key: list(block.candidates) for block in child.blocks.values()}
    chosen = chosen_names(space, arch)
    assert kept == {key: [n for n in names if n != "zero"] for key, names in chosen.items()}
    x = torch.randn(3, 3, 16, 16)
    for mode in (True, False):
        supernet.train(mode)
        child.train(mode)
        assert torch.allclose(child(x, arch), supernet(x, arch), atol=1e-6)
    with pytest.raises(ArchitectureError, match="not built"):
        child(x, random_arch(space, seed=2))


def test_bad_architectures_are_rejected():
    space = tiny_space()
    net = space.build_supernet()
    x = torch.randn(1, 1, 8, 8)
    with pytest.raises(ArchitectureError, match="unknown decision keys block 99"):
        net(x, Architecture.single_path({"block 99": 0}))
    with pytest.raises(ArchitectureError, match="out of range"):
        net(x, Architecture.single_path({"block 1": 6}))


# --------------------------------------------------------------------------- genotypes


def test_scores_derive_the_argmax_and_round_trip_through_the_architecture():
    space = tiny_space()
    arch = random_arch(space, seed=4)
    scores = {d.key: [0.1] * len(d) for d in space.decisions()}
    for key, index in arch.choices().items():
        scores[key][index[0]] = 0.9
    genotype = space.genotype_from_scores(scores)
    assert space.architecture_from_genotype(genotype).choices() == arch.choices()
    assert genotype.blocks[0] == space.decisions()[0].choices[arch.choice("block 1")]


def test_argmax_by_hand_and_removed_blocks_are_zero():
    space = tiny_space(skeleton="proxyless_gpu", kernels="3,7", expansions="3", allow_zero=False)
    scores = {d.key: [0.2, 0.8] for d in space.decisions()}
    scores["block 1"] = [0.7, 0.3]
    genotype = space.genotype_from_scores(scores)
    assert genotype.blocks[:5] == ("3x3_MBConv3", "zero", "zero", "zero", "7x7_MBConv3")
    assert genotype.zero_blocks() == GPU.zero_blocks()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.pop("block 3"), "'block 3' needs 7 scores, got none"),
        (lambda s: s.update({"block 3": [1.0]}), "needs 7 scores, got 1"),
        (lambda s: s.update({"block 30": [1.0]}), "unknown decisions: block 30"),
    ],
)
def test_score_tables_that_do_not_fit_are_rejected(change, message):
    space = tiny_space()
    scores = {d.key: [1.0] * len(d) for d in space.decisions()}
    change(scores)
    with pytest.raises(ArchitectureError, match=message):
        space.genotype_from_scores(scores)


def test_architecture_from_a_genotype_that_does_not_fit_the_space():
    with pytest.raises(ArchitectureError, match="differs from the space's mobilenetv2"):
        tiny_space().architecture_from_genotype(GPU)
    with pytest.raises(ArchitectureError, match="'9x9_MBConv3' is not a choice of 'block 1'"):
        tiny_space().architecture_from_genotype(
            ProxylessGenotype(SKELETONS["mobilenetv2"], ["9x9_MBConv3"] * 21)
        )
    mdenas = tiny_space(skeleton="proxyless_gpu", expansions="1,3,6")
    assert len(mdenas.architecture_from_genotype(GPU).paths) == 13


@pytest.mark.parametrize("name", ["proxyless_gpu", "proxyless_cpu", "proxyless_mobile"])
def test_genotype_json_round_trip(name):
    genotype = ProxylessSpace.published_genotypes()[name]
    text = json.dumps(genotype.to_json())
    assert ProxylessSpace.parse_genotype(json.loads(text), "g.json") == genotype


def test_a_skeleton_may_be_named_or_left_out():
    blocks = ["3x3_MBConv6"] * 21
    named = ProxylessSpace.parse_genotype({"skeleton": "proxyless_cpu", "blocks": blocks}, "g.json")
    assert named.skeleton == SKELETONS["proxyless_cpu"]
    assert ProxylessSpace.parse_genotype({"blocks": blocks}, "g.json").skeleton == SKELETONS["mobilenetv2"]


def _gpu_json():
    return GPU.to_json()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["blocks"].pop(), "20 block choices for a skeleton of 21 blocks"),
        (lambda d: d["blocks"].__setitem__(4, "zero"), "block 5 is the first of its stage"),
        (lambda d: d["blocks"].__setitem__(0, "3x5_MBConv3"), "block 1: '3x5_MBConv3': kernels must be"),
        (lambda d: d["blocks"].__setitem__(0, "conv"), "block 1: 'conv' is not a block choice"),
        (lambda d: d.update(blocks="zero"), "'blocks' must be a list"),
        (lambda d: d.pop("blocks"), "no 'blocks' list"),
        (lambda d: d.update(space="darts-cell"), "genotype of space 'darts-cell'"),
        (lambda d: d.update(normal=[]), "unknown keys normal"),
        (lambda d: d.update(skeleton="proxyless_tpu"), "unknown skeleton 'proxyless_tpu'"),
        (lambda d: d["skeleton"].pop("feature_mix"), "skeleton lacks feature_mix"),
        (lambda d: d["skeleton"].update(strides=[2, 2, 2, 1, 3, 1]), "strides must be 1 or 2"),
        (lambda d: d["skeleton"].update(depths=[4, 4, 4]), "one entry per stage"),
        (lambda d: d["skeleton"].update(first_conv=-8), "first_conv must be positive"),
    ],
)
def test_genotype_validation_errors_name_the_source(change, message):
    data = _gpu_json()
    change(data)
    with pytest.raises(ArchitectureError, match=f"^gpu.json: .*{message}"):
        ProxylessSpace.parse_genotype(data, "gpu.json")


def test_describe_lists_every_block():
    text = ProxylessSpace.describe(GPU)
    lines = text.splitlines()
    assert "skeleton proxyless_gpu" in lines[0] and "1728" in lines[0]
    assert lines[2].split() == ["1", "1", "32", "2", "5x5_MBConv3"]
    assert lines[-1].split() == ["21", "6", "432", "1", "7x7_MBConv6"]
    assert len(lines) == 2 + 21


# --------------------------------------------------------------------------- evaluation network


def test_network_equals_the_supernet_child_of_its_genotype():
    space = tiny_space(SMALL)
    generator = torch.Generator().manual_seed(7)
    genotype = space.genotype_from_scores(
        {d.key: torch.rand(len(d), generator=generator).tolist() for d in space.decisions()}
    )
    arch = space.architecture_from_genotype(genotype)
    child = space.build_supernet(only=arch).eval()
    network = space.build_network(genotype, {"width_mult": 0.25}).eval()
    child_state = child.state_dict()
    assert [v.shape for v in network.state_dict().values()] == [v.shape for v in child_state.values()]
    network.load_state_dict(dict(zip(network.state_dict(), child_state.values())))
    x = torch.randn(2, 3, 16, 16)
    assert torch.allclose(network(x), child(x, arch), atol=1e-6)
    network.train()
    logits, auxiliary = network(x)
    assert logits.shape == (2, 5) and auxiliary is None


def test_network_options_are_checked():
    space = tiny_space()
    with pytest.raises(OptionError, match="dropout"):
        space.build_network(GPU, {"dropout": 1.5})
    with pytest.raises(OptionError, match="unknown option depth"):
        space.build_network(GPU, {"depth": "3"})


@pytest.mark.parametrize(
    "name, parameters, macs",
    [
        ("proxyless_gpu", 7.12e6, 465.3e6),
        ("proxyless_cpu", 4.36e6, 439.2e6),
        ("proxyless_mobile", 4.08e6, 320.4e6),
    ],
)
def test_published_nets_match_the_paper(name, parameters, macs):
    space = ProxylessSpace(IMAGENET, {})
    cost = model_cost(space.build_network(ProxylessSpace.published_genotypes()[name], {}), IMAGENET)
    assert cost.parameters == pytest.approx(parameters, rel=0.01)
    assert cost.macs == pytest.approx(macs, rel=0.01)


# --------------------------------------------------------------------------- command line


def invoke(*args):
    from click.testing import CliRunner

    from nasplug.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.slow
def test_info_reports_the_published_gpu_net_at_224():
    result = invoke("info", "--space", "proxyless-mbv2", "--genotype", "proxyless_gpu", "--dataset", "imagenet")
    assert result.exit_code == 0, result.output
    assert "parameters     7.119848 M" in result.output
    assert "multiply-adds  465.26 M" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("controller", ["random", "mdenas"])
def test_search_on_digits_runs_and_its_genotype_rebuilds(controller, tmp_path):
    out = tmp_path / "run"
    result = invoke("run", "--space", "proxyless-mbv2", "--controller", controller, "--dataset", "digits",
                    "--epochs", "1", "--batch-size", "128", "-o", "width_mult=0.25", "--quiet", "--out", out)
    assert result.exit_code == 0, result.output
    genotype = ProxylessSpace.parse_genotype(json.loads((out / "genotype.json").read_text()), "genotype.json")
    assert len(genotype.blocks) == 21
    info = invoke("info", "--genotype", out / "genotype.json", "--dataset", "digits", "-o", "width_mult=0.25")
    assert info.exit_code == 0 and "digits 8x8" in info.output
