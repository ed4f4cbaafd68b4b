"""Framework overhead: the share of a search step spent in hook dispatch and bookkeeping.

The engine's own step runs for each controller (interleaved, on fixed
synthetic batches) with four clocks:

* compute: the engine's feedback forwards and its weight update (forward,
  backward, clipping, SGD) — what training the child costs anyway;
* controller: time inside the controller's hook implementations (sampling,
  its statistics, its distribution update; for EoiNAS this includes the
  validation backward into α, Eq. 3, which is compute of the algorithm);
* dispatch: the typed ``Hooks`` calls minus the controller's time in them
  (pluggy's call machinery, argument passing, result checks);
* engine: the rest of the step (the sampling loop, sums, feedback records,
  single-process distributed branches).

"dispatch + engine" is the framework's overhead proper; "+ controller" adds
the algorithms' own bookkeeping. A second table times the epoch-end work
(report_distribution, derive_genotype, serialising a checkpoint in memory).

    python benchmarks/overhead.py --out overhead.json
"""

from __future__ import annotations

import argparse
import functools
import io
import time
from collections.abc import Callable
from typing import Any

import torch

from _common import (
    Configurations,
    StepHarness,
    add_network_arguments,
    build_controller,
    configurations,
    data_shape,
    environment,
    load_average,
    make_step,
    markdown_table,
    save,
    setup_torch,
    space_options,
    synchronize,
    synthetic_batches,
)
from nasplug.runs.device import resolve_device
from nasplug.core.controller import Controller
from nasplug.plugin import load_plugins

PARTS = ("compute", "controller", "dispatch", "engine")


def time_hook_implementations(controller: Controller) -> dict[str, float]:
    """Wrap the controller's hook implementations (before registration) to add up their seconds.

    ``functools.wraps`` keeps pluggy's marker and the signature, so the
    wrapped methods register and receive arguments exactly as the originals.
    """
    seconds: dict[str, float] = {}

    def timing(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def timed_method(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started

        return timed_method

    for name in dir(controller):
        method = getattr(controller, name, None)
        if callable(method) and hasattr(method, "nasplug_impl"):
            setattr(controller, name, timing(name, method))
    return seconds


def measure(args: argparse.Namespace, configs: Configurations) -> dict[str, Any]:
    """Interleaved steps of every configuration with the four clocks, then the epoch-end costs."""
    device = resolve_device(args.device)
    space = load_plugins().build_space(args.space, data_shape(args), space_options(args))
    train, search = synthetic_batches(space.data, args.batch_size, args.seed, device)
    harnesses, impl_seconds = {}, {}
    for label, (name, options) in configs.items():
        controller = build_controller(name, space, options, args.seed)
        impl_seconds[label] = time_hook_implementations(controller)
        harnesses[label] = StepHarness(space, controller, name, device, load_plugins())
    totals = {label: dict.fromkeys((*PARTS, "step", "hook_calls"), 0.0) for label in configs}
    labels = list(configs)
    for index in range(args.warmup_steps + args.steps):
        shift = index % len(labels)
        for label in labels[shift:] + labels[:shift]:
            harness, impls = harnesses[label], impl_seconds[label]
            impls.clear()
            synchronize(device)
            started = time.perf_counter()
            harness.step(make_step(index, args.steps_per_epoch), train, search)
            synchronize(device)
            step = time.perf_counter() - started
            if index < args.warmup_steps:
                continue
            hooks = sum(harness.hooks.seconds.values())
            compute = sum(harness.compute.values())
            controller = sum(impls.values())
            parts = {"compute": compute, "controller": controller, "dispatch": hooks - controller,
                     "engine": step - compute - hooks, "step": step, "hook_calls": harness.hooks.calls}
            for key, value in parts.items():
                totals[label][key] += value
    return {"totals": totals, "epoch_end": epoch_end_costs(harnesses, args.epoch_end_repeats)}


def epoch_end_costs(harnesses: dict[str, StepHarness], repeats: int) -> dict[str, dict[str, float]]:
    """Median ms of the engine's epoch-end bookkeeping: distribution, genotype, checkpoint bytes."""
    result = {}
    for label, harness in harnesses.items():
        samples: dict[str, list[float]] = {"report_and_derive": [], "checkpoint": []}
        for _ in range(repeats):
            started = time.perf_counter()
            harness.hooks.report_distribution(harness.space)
            genotype = harness.hooks.derive_genotype(harness.space)
            harness.space.architecture_from_genotype(genotype)
            middle = time.perf_counter()
            state = {"supernet": harness.supernet.state_dict(), "optimizer": harness.optimizer.state_dict(),
                     "controller": harness.controller.state_dict()}
            torch.save(state, io.BytesIO())
            samples["report_and_derive"].append(middle - started)
            samples["checkpoint"].append(time.perf_counter() - middle)
        result[label] = {key: 1e3 * sorted(values)[len(values) // 2] for key, values in samples.items()}
    return result


def summarise(totals: dict[str, float], steps: int) -> dict[str, float]:
    step = totals["step"]
    shares = {f"{part}_percent": 100 * totals[part] / step for part in PARTS}
    framework = totals["dispatch"] + totals["engine"]
    return {
        "step_ms": 1e3 * step / steps,
        **shares,
        "framework_percent": 100 * framework / step,
        "framework_and_controller_percent": 100 * (framework + totals["controller"]) / step,
        "framework_ms": 1e3 * framework / steps,
        "dispatch_us_per_call": 1e6 * totals["dispatch"] / totals["hook_calls"],
        "hook_calls_per_step": totals["hook_calls"] / steps,
    }


def tables(summary: dict[str, dict[str, float]], epoch_end: dict[str, dict[str, float]]) -> str:
    headers = ["controller", "step ms", "compute %", "controller %", "dispatch %", "engine %",
               "dispatch + engine %", "+ controller %", "dispatch µs/call"]
    rows = [[label, f"{s['step_ms']:.1f}", f"{s['compute_percent']:.2f}", f"{s['controller_percent']:.2f}",
             f"{s['dispatch_percent']:.3f}", f"{s['engine_percent']:.3f}", f"{s['framework_percent']:.3f}",
             f"{s['framework_and_controller_percent']:.2f}", f"{s['dispatch_us_per_call']:.1f}"]
            for label, s in summary.items()]
    end_rows = [[label, f"{e['report_and_derive']:.2f}", f"{e['checkpoint']:.1f}"]
                for label, e in epoch_end.items()]
    return (markdown_table(headers, rows) + "\n\nEpoch end (once per epoch, median):\n\n"
            + markdown_table(["controller", "report + derive ms", "checkpoint serialisation ms"], end_rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_network_arguments(parser)
    parser.add_argument("--controllers", default="random,mdenas,parsec,eoinas", help="comma-separated")
    parser.add_argument("--parsec-k", type=int, default=4, help="PARSEC samples K (default 4)")
    parser.add_argument("--steps", type=int, default=20, help="measured steps per controller")
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--steps-per-epoch", type=int, default=10, help="MdeNAS updates at each epoch end")
    parser.add_argument("--epoch-end-repeats", type=int, default=5)
    args = parser.parse_args()
    setup_torch(args.threads, args.seed)
    device = resolve_device(args.device)
    configs = configurations(args.controllers.split(","), [args.parsec_k], eoinas_warmup=True)

    load_before = load_average()
    print(f"timing {len(configs)} controllers, {args.steps} steps each ...", flush=True)
    measured = measure(args, configs)
    load_after = load_average()
    summary = {label: summarise(t, args.steps) for label, t in measured["totals"].items()}
    text = tables(summary, measured["epoch_end"])
    print()
    print(text)
    save(args.out, {
        "benchmark": "overhead",
        "environment": environment(device),
        "load_average": {"start": load_before, "end": load_after},
        "settings": {**{k: str(v) if k == "out" else v for k, v in vars(args).items()},
                     "space_options": space_options(args)},
        "summary": summary,
        "totals_seconds": measured["totals"],
        "epoch_end_ms": measured["epoch_end"],
        "table": text,
    })


if __name__ == "__main__":
    main()
