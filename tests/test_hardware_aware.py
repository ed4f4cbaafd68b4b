"""Hardware-aware search: the latency protocol, cost models as plugins, and a target any controller learns under."""

import hashlib
import json
import shutil
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from nasplug import Architecture, CostError, CostModel, Feedback, GatedChoice, api
from nasplug.networks.latency import LatencyError, LatencyProtocol, measure_latency
from nasplug.plugin import load_plugins
from nasplug.runs.checkpoint import checkpoint_paths, load_checkpoint
from nasplug.search.target import CostTarget, parse_target
from nasplug.testing import assert_one_line_error, run_cli, search_args, tiny_space

TINY = {"layers": 3, "channels": 4, "epochs": 1, "batch_size": 32, "device": "cpu", "progress": False}


# --------------------------------------------------------------------------- measured latency


class ScriptedClock:
    """A fake clock: returns the scripted readings in turn and counts how often it was read."""

    def __init__(self, readings):
        self.readings = list(readings)
        self.reads = 0

    def __call__(self):
        self.reads += 1
        return self.readings.pop(0)


class CountingNet(nn.Module):
    """Records, for every forward, how often the clock had been read by then."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock
        self.seen = []
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        self.seen.append(self.clock.reads)
        return x * self.scale


def test_latency_protocol_excludes_warmup_and_times_the_stated_runs_in_ms():
    # timed run k starts at 10·k s and lasts durations[k] ms
    durations = [4.0, 1.0, 9.0, 2.0, 3.0]
    readings = [value for k, d in enumerate(durations) for value in (10.0 * k, 10.0 * k + d / 1000)]
    clock = ScriptedClock(readings)
    net = CountingNet(clock)
    report = measure_latency(net, 3, LatencyProtocol(input_size=4, warmup=3, runs=5, threads=1), clock=clock)
    assert net.seen[:3] == [0, 0, 0]  # the warm-up ran before the clock was first read
    assert net.seen[3:] == [1, 3, 5, 7, 9]  # each timed forward between its two readings
    assert clock.reads == 10 and len(report.times_ms) == 5
    assert report.times_ms == pytest.approx(durations)
    assert report.median_ms == pytest.approx(3.0)
    assert report.quartiles_ms == pytest.approx((2.0, 4.0))
    summary = report.summary()
    assert "3.000 ms median" in summary and "IQR 2.000-4.000 ms" in summary and "min-max 1.000-9.000 ms" in summary
    assert "5 timed runs after 3 warm-up runs" in summary
    written = report.to_json()
    assert written["unit"] == "ms" and written["protocol"]["threads"] == 1 and written["software"]["torch"]


def test_latency_measurement_restores_the_modules_mode_dtype_and_torchs_thread_count():
    clock = ScriptedClock([0.0, 0.001] * 2)
    net = CountingNet(clock).double().train()
    modes = []
    net.register_forward_pre_hook(lambda module, _args: modes.append((module.training, module.scale.dtype)))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        measure_latency(net, 3, LatencyProtocol(input_size=4, warmup=1, runs=2, threads=1), clock=clock)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert modes == [(False, torch.float32)] * 3  # timed in eval mode, in the protocol's fp32
    assert net.training and net.scale.dtype == torch.float64


def test_latency_protocol_refuses_what_it_cannot_run():
    with pytest.raises(LatencyError, match="fp16 is timed on CUDA only"):
        LatencyProtocol(precision="fp16")
    with pytest.raises(LatencyError, match="runs must be at least 1"):
        LatencyProtocol(runs=0)


def test_latency_command_prints_median_spread_device_and_versions(tmp_path):
    out = tmp_path / "latency.json"
    result = run_cli("latency", "--genotype", "DARTS_V2", "--layers", "1", "--channels", "4", "--input-size", "8",
                     "--warmup", "1", "--runs", "3", "--json", out)
    assert "batch 1 x 8x8, fp32, 1 thread(s), cpu (" in result.output
    assert " ms median (IQR " in result.output and "3 timed runs after 1 warm-up runs" in result.output
    assert "torch " in result.output
    written = json.loads(out.read_text())
    assert written["unit"] == "ms" and len(written["times_ms"]) == 3
    refused = run_cli("latency", "--genotype", "DARTS_V2", "--precision", "fp16", exit_code=None)
    assert_one_line_error(refused, "fp16 is timed on CUDA only")


# --------------------------------------------------------------------------- the lookup table


def test_proxyless_lookup_table_is_saved_with_its_protocol_and_sums_its_blocks(tmp_path):
    path = tmp_path / "table.json"
    table = api.latency_table(path, dataset="digits", input_size=8, warmup=0, runs=1,
                              options={"skeleton": "mobilenetv2", "kernels": "3", "expansions": "1"})
    saved = json.loads(path.read_text())
    assert saved["unit"] == "ms" and saved["format"] == "nasplug-latency-table-1"
    protocol = saved["report"]["protocol"]
    assert (protocol["device"], protocol["batch_size"], protocol["precision"], protocol["threads"],
            protocol["input_size"]) == ("cpu", 1, "fp32", 1, 8)
    assert saved["report"]["device_name"] and saved["report"]["software"]["torch"] == torch.__version__

    hooks = load_plugins()
    shape = hooks.dataset_shape("digits")
    space = hooks.build_space("proxyless-mbv2", shape, {"kernels": "3", "expansions": "1"})
    model = hooks.build_cost_model(f"proxyless-lut:{path}", space)
    decisions = space.decisions()
    first = Architecture.single_path({d.key: 0 for d in decisions})
    assert model.cost(first) == pytest.approx(table.fixed_ms + sum(row["3x3_MBConv1"] for row in table.blocks.values()))
    skipping = Architecture.single_path({d.key: len(d) - 1 for d in decisions})  # zero where allowed
    swapped = model.decision_costs(first)
    key = next(d.key for d in decisions if "zero" in d.choices)
    assert swapped[key][-1] == pytest.approx(model.cost(first) - table.blocks[key]["3x3_MBConv1"])
    assert model.cost(skipping) < model.cost(first)

    other = hooks.build_space("proxyless-mbv2", shape, {})  # 6 candidates per block: not what was measured
    with pytest.raises(CostError, match="blocks or choices differ"):
        hooks.build_cost_model(f"proxyless-lut:{path}", other)
    path.write_text('{"format": "nasplug-latency-table-1", "unit": "s"}')
    with pytest.raises(CostError, match=r"table\.json: the table's unit is 's'"):
        hooks.build_cost_model(f"proxyless-lut:{path}", space)


def test_a_lookup_table_refuses_a_search_at_other_shapes_unless_told_and_a_run_records_what_it_priced_as(
        tmp_path, monkeypatch):
    options = {"skeleton": "mobilenetv2", "kernels": "3", "expansions": "1"}
    table = tmp_path / "table.json"
    api.latency_table(table, dataset="digits", input_size=8, warmup=0, runs=1, options=options)
    hooks = load_plugins()
    narrow = hooks.build_space("proxyless-mbv2", hooks.dataset_shape("digits"), {**options, "width_mult": 0.5})
    with pytest.raises(CostError, match=r"measured at other shapes .*width_mult.*proxyless-lut-other-shape:FILE"):
        hooks.build_cost_model(f"proxyless-lut:{table}", narrow)
    assert hooks.build_cost_model(f"proxyless-lut-other-shape:{table}", narrow).priced_as()["space_options"][
        "width_mult"] == 1.0

    monkeypatch.chdir(tmp_path)  # typed relative: stored resolved, with the table's sha256
    run = api.search("proxyless-mbv2", "random", out=tmp_path / "run", dataset="digits", input_size=8, epochs=1,
                     batch_size=32, device="cpu", progress=False, options=options, target="latency=1000ms",
                     cost_model="proxyless-lut:table.json", search_split="64")
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    digest = hashlib.sha256(table.read_bytes()).hexdigest()
    assert saved["cost_model"] == f"proxyless-lut:{table.resolve()}#sha256={digest}"
    assert saved["environment"]["priced_as"]["protocol"]["input_size"] == 8
    table.write_text(table.read_text().replace('"statistic": "median"', '"statistic": "min"'))
    with pytest.raises(CostError, match="the latency table changed since this run started"):
        api.resume_search(run.run_dir, progress=False)


# --------------------------------------------------------------------------- cost models as plugins

TINY_DEVICE = '''
    import nasplug


    class TinyDevice(nasplug.CostModel):
        """Latency 1 ms plus 1 ms per decision whose choice is not its first."""

        description = "a made-up device (test plugin)"
        quantity = "latency"

        def cost(self, architecture):
            return 1.0 + sum(1.0 for paths in architecture.choices().values() if paths[0] != 0)


    @nasplug.hookimpl
    def list_cost_models():
        return {"tiny-device": TinyDevice}
'''


def test_list_cost_models_finds_a_third_party_cost_model_through_its_entry_point(fake_dist, tmp_path):
    fake_dist("nasplug-tinydevice", {"nasplug": {"tinydevice": "nasplug_tinydevice"}},
              {"nasplug_tinydevice.py": TINY_DEVICE})
    hooks = load_plugins()
    entry = hooks.cost_models()["tiny-device"]
    assert entry.provider.distribution == "nasplug-tinydevice"
    result = api.search("darts-cell", "random", out=tmp_path / "run", target="latency=4ms",
                        cost_model="tiny-device", hooks=hooks, **TINY)
    record = result.history[0]
    # 14 edges per cell type drawn uniformly from 8 ops: the mean cost lies far from 1 ms and within 1..29 ms
    assert 5.0 < record["search_cost"] < 29.0
    assert "tiny-device" in run_cli("plugins").output


BROKEN_DEVICES = '''
    import nasplug


    class Raises(nasplug.CostModel):
        quantity = "latency"

        def cost(self, architecture):
            raise ZeroDivisionError("board offline")


    class Text(nasplug.CostModel):
        quantity = "latency"

        def cost(self, architecture):
            return "3 ms"


    class BadRows(nasplug.CostModel):
        quantity = "latency"

        def cost(self, architecture):
            return 2.0

        def decision_costs(self, architecture):
            return {"a": ["fast", "slow"]}


    @nasplug.hookimpl
    def list_cost_models():
        return {"raises": Raises, "text": Text, "bad-rows": BadRows}
'''


def test_a_failing_or_non_numeric_plugin_cost_model_is_one_line_naming_the_plugin(fake_dist, tmp_path):
    fake_dist("nasplug-brokendevices", {"nasplug": {"brokendevices": "nasplug_brokendevices"}},
              {"nasplug_brokendevices.py": BROKEN_DEVICES})
    for name, message in (("raises", "cost model 'raises'.cost: ZeroDivisionError: board offline"),
                          ("text", "priced a sample at '3 ms' ms")):
        result = run_cli(*search_args("random", tmp_path / name, "--target", "latency=5ms", "--cost-model", name),
                         exit_code=None)
        assert_one_line_error(result, "nasplug-brokendevices", message)
    hooks = load_plugins()
    space = tiny_space({"a": 2})
    target = CostTarget(parse_target("latency=1ms"), hooks.build_cost_model("bad-rows", space), "bad-rows",
                        owner="plugin nasplug-brokendevices")
    gate = torch.ones((), requires_grad=True)
    result = Feedback(loss=1.0, accuracy=0.5, log_likelihood=-1.0, batch_size=1, loss_tensor=gate * 1.0)
    with pytest.raises(CostError, match="nasplug-brokendevices: cost model 'bad-rows'.decision_costs returned"):
        target.score([Architecture({"a": (GatedChoice(0, gate), GatedChoice(1, gate))})], [result])


# --------------------------------------------------------------------------- the target and the reward


def test_target_units_are_required_and_converted():
    assert parse_target("latency=5ms").value == 5.0
    assert parse_target("latency = 0.005s").value == pytest.approx(5.0)
    assert parse_target("madds=0.6G").value == pytest.approx(600.0)
    for text, message in (("latency=5", "no unit for latency"), ("latency=5GB", "unit 'GB' for latency"),
                          ("speed=5ms", "unknown quantity 'speed'"), ("latency=0ms", "positive"),
                          ("latency", "expected QUANTITY=VALUE UNIT")):
        with pytest.raises(CostError, match=message):
            parse_target(text)


class ByChoice(CostModel):
    """Cost 1 + the sum of the chosen indices: additive, so decision_costs is the default's exact answer."""

    quantity = "latency"

    def cost(self, architecture):
        return 1.0 + sum(paths[0] for paths in architecture.choices().values())


def scored_one(rule, cost_target_ms, accuracy=0.5, log_likelihood=-10.0):
    space = tiny_space({"a": 3, "b": 2})
    target = CostTarget(parse_target(f"latency={cost_target_ms}ms"), ByChoice(space), "by-choice", rule)
    sample = Architecture.single_path({"a": 1, "b": 0})  # cost 2 ms
    result = Feedback(loss=1.0, accuracy=accuracy, log_likelihood=log_likelihood, batch_size=4)
    (scored,), (cost,) = target.score([sample], [result])
    return scored, cost


def test_reward_is_mnasnets_soft_and_hard_form_hand_computed():
    scored, cost = scored_one("soft", 1)
    assert cost == 2.0
    assert float(scored.accuracy) == pytest.approx(0.5 * 2 ** -0.07)
    assert float(scored.log_likelihood) == pytest.approx(-10.0 + 4 * -0.07 * math.log(2))
    assert float(scored.loss) == 1.0  # the loss itself is what was measured
    scored, _ = scored_one("hard", 4)  # under the target: nothing changes
    assert float(scored.accuracy) == 0.5 and float(scored.log_likelihood) == -10.0
    scored, _ = scored_one("hard", 1)  # twice the target: the reward halves
    assert float(scored.accuracy) == pytest.approx(0.25)
    assert float(scored.log_likelihood) == pytest.approx(-10.0 - 4 * math.log(2))


def test_a_gradient_based_step_gets_the_gradient_of_the_expected_cost():
    space = tiny_space({"a": 3})
    target = CostTarget(parse_target("latency=1ms"), ByChoice(space), "by-choice", "soft")
    logits = torch.zeros(3, requires_grad=True)
    gates = torch.softmax(logits, 0)
    sample = Architecture({"a": tuple(GatedChoice(i, gates[i]) for i in range(3))})  # a DARTS mixture
    loss = (gates * torch.tensor([0.3, 0.2, 0.1])).sum()
    result = Feedback(loss=loss.detach(), accuracy=0.5, log_likelihood=-1.0, batch_size=1, loss_tensor=loss)
    (scored,), (cost,) = target.score([sample], [result])
    assert cost == 1.0  # the strongest path (ties: the first) is choice 0
    assert float(scored.loss_tensor.detach()) == pytest.approx(float(loss.detach()))  # the value is the loss's
    (gradient,) = torch.autograd.grad(scored.loss_tensor, logits, retain_graph=True)
    (plain,) = torch.autograd.grad(loss, logits)
    # per-choice costs 1, 2, 3, E[cost] = Σ p c = 2: d E/d logit_j = p_j (c_j − 2) = (c_j − 2)/3; the term is
    # −w · log E, so its gradient is 0.07 · (c_j − 2)/3 / 2
    assert (gradient - plain).tolist() == pytest.approx([0.07 * (c - 2) / 3 / 2 for c in (1, 2, 3)])


def test_a_straight_through_sample_gets_the_gradient_of_its_expected_cost_under_beta():
    """EoiNAS's shape: one straight-through gate on the drawn op, β = softmax(α) over the live ops (the last one
    pruned) in ``probabilities``; the added gradient is that of −w · log Σ β_k c_k, hand-computed."""
    space = tiny_space({"a": 4})
    target = CostTarget(parse_target("latency=1ms"), ByChoice(space), "by-choice", "soft")
    alpha = torch.tensor([0.5, -0.3, 0.2, 1.0], dtype=torch.float64, requires_grad=True)
    alive = torch.tensor([True, True, True, False])
    logits = alpha.masked_fill(~alive, float("-inf"))
    beta = torch.softmax(logits, 0)
    soft = torch.softmax(logits / 0.5, 0)
    hard = torch.zeros(4, dtype=torch.float64).scatter(0, torch.tensor([1]), 1.0) - soft.detach() + soft
    sample = Architecture({"a": (GatedChoice(1, hard[1]),)}, {"a": beta})
    loss = hard[1] * 0.4
    result = Feedback(loss=0.4, accuracy=0.5, log_likelihood=-1.0, batch_size=1, loss_tensor=loss)
    (scored,), (cost,) = target.score([sample], [result])
    assert cost == 2.0  # the drawn op, choice 1
    assert float(scored.loss_tensor.detach()) == pytest.approx(0.4)
    (gradient,) = torch.autograd.grad(scored.loss_tensor, alpha, retain_graph=True)
    (plain,) = torch.autograd.grad(loss, alpha)
    b = [math.exp(a) for a in (0.5, -0.3, 0.2)]
    b = [x / sum(b) for x in b]
    expected = sum(bk * (1 + k) for k, bk in enumerate(b))  # costs 1, 2, 3 of the live ops; the pruned one has p 0
    hand = [0.07 * b[j] * ((1 + j) - expected) / expected for j in range(3)] + [0.0]
    assert (gradient - plain).tolist() == pytest.approx(hand, abs=1e-12)


class Interacting(CostModel):
    """Not additive: 1 + a + 2·a·b, as a table measured per whole cell (nas-bench-201's) may be."""

    quantity = "latency"

    def cost(self, architecture):
        choices = {key: paths[0] for key, paths in architecture.choices().items()}
        return 1.0 + choices["a"] + 2.0 * choices["a"] * choices["b"]


def test_a_non_additive_model_is_linearised_by_one_swap_at_a_time():
    space = tiny_space({"a": 3, "b": 2})
    model = Interacting(space)
    at = Architecture.single_path({"a": 1, "b": 1})  # cost 4
    assert model.decision_costs(at) == {"a": [1.0, 4.0, 7.0], "b": [2.0, 4.0]}
    target = CostTarget(parse_target("latency=1ms"), model, "interacting", "soft")
    pa = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64, requires_grad=True)
    pb = torch.tensor([0.6, 0.4], dtype=torch.float64, requires_grad=True)
    sample = Architecture.single_path({"a": 1, "b": 1})
    sample = Architecture(sample.paths, {"a": pa, "b": pb})
    expected = target.expected_cost(sample, at, 4.0)
    # c(s) + Σ p (c_k − c(s)) = 4 + (0.2·−3 + 0.5·3) + 0.6·−2 = 3.7; the true E[cost] under independent
    # p would be 1 + 1.3 + 2·1.3·0.4 = 3.34: the interaction is what the linearisation leaves out
    assert float(expected.detach()) == pytest.approx(3.7)
    expected.backward()
    assert pa.grad.tolist() == pytest.approx([-3.0, 0.0, 3.0]) and pb.grad.tolist() == pytest.approx([-2.0, 0.0])


def test_analytical_swaps_are_looked_up_from_one_table_equal_to_counting_each_child(monkeypatch):
    pytest.importorskip("nasplug_nb201")
    hooks = load_plugins()
    space = hooks.build_space("nas-bench-201", hooks.dataset_shape("digits"), {"cells": 1, "channels": 4})
    builds = []
    build = space.build_supernet
    monkeypatch.setattr(space, "build_supernet", lambda *a, **k: builds.append(1) or build(*a, **k))
    model = hooks.build_cost_model("madds", space)
    at = Architecture.single_path({d.key: i % len(d) for i, d in enumerate(space.decisions())})
    first = model.decision_costs(at)
    assert model._additive and len(builds) == 1 + 6 * 4 + 2  # the base, each swap from it (to 0 is the base), two checks
    again = model.decision_costs(Architecture.single_path({d.key: 1 for d in space.decisions()}))
    assert len(builds) == 27  # no build per step once the table exists
    exact = hooks.build_cost_model("madds", space)
    exact._additive = False  # count each swapped child, as before
    counted = exact.decision_costs(at)
    assert first.keys() == counted.keys()
    assert all(first[key] == pytest.approx(counted[key]) for key in counted)  # approx takes no nested dict
    assert again["edge 1<-0"][1] == pytest.approx(exact.cost(Architecture.single_path({d.key: 1 for d in
                                                                                         space.decisions()})))


def test_a_unit_mismatch_and_a_target_without_cost_model_are_one_line_errors(tmp_path):
    mismatch = run_cli(*search_args("random", tmp_path / "a", "--target", "latency=5ms", "--cost-model", "params"),
                       exit_code=None)
    assert_one_line_error(mismatch, "bounds latency, but cost model 'params' measures params (M)", "unit mismatch")
    alone = run_cli(*search_args("random", tmp_path / "b", "--target", "latency=5ms"), exit_code=None)
    assert_one_line_error(alone, "needs both --target")
    unknown = run_cli(*search_args("random", tmp_path / "c", "--target", "latency=5ms", "--cost-model", "nope"),
                      exit_code=None)
    assert_one_line_error(unknown, "unknown cost model 'nope'; available:", "madds", "params")
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("controller, options", [
    ("random", {}), ("mdenas", {}), ("parsec", {"samples": 2}), ("eoinas", {"warmup": 0}),
])
def test_without_a_target_the_history_is_what_it_was(tmp_path, controller, options):
    """A target that never binds (hard rule, far above any cost) hands controllers what they got without one:
    the history must then hold the same values, bit for bit, plus the cost columns; without one, no new key."""
    plain = api.search("darts-cell", controller, out=tmp_path / "plain", options=options, **{**TINY, "epochs": 2})
    bound = api.search("darts-cell", controller, out=tmp_path / "bound", target="madds=1000G", cost_model="madds",
                       target_rule="hard", options=options, **{**TINY, "epochs": 2})
    for before, after in zip(plain.history, bound.history):
        assert not {"search_cost", "search_reward", "derived_cost", "derived_reward"} & set(before)
        assert {key: after[key] for key in before if key != "seconds"} == {
            key: value for key, value in before.items() if key != "seconds"}
        assert after["search_reward"] == after["search_accuracy"] and after["derived_cost"] > 0
    assert plain.genotype == bound.genotype


@pytest.mark.parametrize("controller", ["random", "mdenas"])
def test_without_a_target_the_history_is_the_one_recorded_before_hardware_aware_search(tmp_path, controller):
    """tests/golden holds the history of this tiny search as fa31510 (before issue 27) wrote it, `seconds`
    dropped (made with that commit's tree on PYTHONPATH: `nasplug run --space darts-cell --controller C
    --dataset digits --layers 3 --channels 4 --epochs 2 --batch-size 32 --threads 1 --device cpu`); the keys it
    had must hold the same values, bit for bit (later issues added keys such as `derived` and `prunes`)."""
    golden = Path(__file__).parent / "golden" / f"fa31510_darts-cell_{controller}_history.jsonl"
    before = [json.loads(line) for line in golden.read_text().splitlines()]
    now = api.search("darts-cell", controller, out=tmp_path / "run", dataset="digits", layers=3, channels=4,
                     epochs=2, batch_size=32, device="cpu", progress=False, threads=1).history
    assert len(now) == len(before) == 2
    for old_record, record in zip(before, now):
        assert {key: record[key] for key in old_record} == old_record


@pytest.mark.parametrize("controller, options", [
    ("random", {}), ("mdenas", {}), ("parsec", {"samples": 2}), ("eoinas", {"warmup": 0}),
])
def test_every_controller_searches_under_a_target_and_records_reward_accuracy_and_cost(tmp_path, controller,
                                                                                      options):
    pytest.importorskip("nasplug_nb201")
    result = api.search("nas-bench-201", controller, out=tmp_path / "run", dataset="digits", epochs=1,
                        batch_size=32, device="cpu", progress=False, options={"cells": 1, "channels": 4, **options},
                        target="latency=5ms", cost_model="nb201-latency-pixel3")
    record = result.history[0]
    assert record["search_cost"] > 0 and record["derived_cost"] > 0
    assert 0 < record["search_reward"] and 0 <= record["search_accuracy"] <= 1
    assert record["search_reward"] != record["search_accuracy"]  # the soft rule always scales
    assert record["derived_reward"] == pytest.approx(
        record["derived_accuracy"] * (record["derived_cost"] / 5) ** -0.07)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (config["target"], config["cost_model"], config["target_rule"]) == (
        "latency=5ms", "nb201-latency-pixel3", "soft")


EXPENSIVE_CONV = '''
    import nasplug


    class ExpensiveConv(nasplug.CostModel):
        """1 ms plus 100 ms for every edge running nor_conv_3x3: additive, deterministic."""

        quantity = "latency"

        def cost(self, architecture):
            names = architecture.to_json(self.space.decisions())
            return 1.0 + 100.0 * sum(chosen == ["nor_conv_3x3"] for chosen in names.values())


    @nasplug.hookimpl
    def list_cost_models():
        return {"expensive-conv": ExpensiveConv}
'''


@pytest.mark.parametrize("controller, options", [
    ("random", {}), ("mdenas", {}), ("parsec", {"samples": 2}), ("eoinas", {"warmup": 0}),
])
def test_every_controller_moves_away_from_an_op_the_target_makes_very_expensive(fake_dist, tmp_path, controller,
                                                                                options):
    """Planted: one op costs 100× the rest. Under the target, each controller's own measure of that op (its
    probability; random search's derived choice) must fall against the same search without the target."""
    pytest.importorskip("nasplug_nb201")
    fake_dist("nasplug-expensiveconv", {"nasplug": {"expensiveconv": "nasplug_expensiveconv"}},
              {"nasplug_expensiveconv.py": EXPENSIVE_CONV})
    hooks = load_plugins()
    common = {"dataset": "digits", "epochs": 2, "batch_size": 32, "device": "cpu", "progress": False,
              "options": {"cells": 1, "channels": 4, **options}, "hooks": hooks}
    free = api.search("nas-bench-201", controller, out=tmp_path / "free", **common)
    bound = api.search("nas-bench-201", controller, out=tmp_path / "bound", target="latency=2ms",
                       cost_model="expensive-conv", target_rule="hard", **common)

    def conv_share(result):
        record = result.history[-1]
        if controller == "random":  # uniform sampling: its per-choice mean score is what the reward moves
            state = load_checkpoint(checkpoint_paths(result.run_dir)[-1])["controller"]
            scores = state["accuracy_sum"] / state["visits"].clamp(min=1)
            names = [name for choices in record["choices"].values() for name in choices]
            conv = [float(score) for score, name in zip(scores, names) if name == "nor_conv_3x3"]
            return sum(conv) / len(conv) / float(scores.mean())
        return sum(p[record["choices"][key].index("nor_conv_3x3")]
                   for key, p in record["distribution"].items()) / len(record["distribution"])

    assert conv_share(bound) < conv_share(free)


def test_a_search_under_a_target_resumes_exactly(tmp_path):
    """The target, cost model and rule come back from config.json; the resumed history is the uninterrupted one."""
    full = api.search("darts-cell", "random", out=tmp_path / "full", target="madds=0.05M", cost_model="madds",
                      **{**TINY, "epochs": 2})
    cut = tmp_path / "cut"
    shutil.copytree(full.run_dir, cut)
    (cut / "checkpoints" / "epoch-0002.pt").unlink()
    resumed = api.resume_search(cut, progress=False)
    strip = [{k: v for k, v in record.items() if k != "seconds"} for record in full.history]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in resumed.history] == strip
    assert resumed.history[-1]["search_cost"] > 0.05  # the bound binds: the samples cost more than 0.05 M
