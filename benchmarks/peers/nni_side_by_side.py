"""nasplug against NNI 3.0's one-shot strategies: seconds per search step and peak memory, as ratios.

NNI's RandomOneShot, ENAS, DARTS and GumbelDARTS search NNI's DARTS space
(``nni.nas.hub.pytorch.DARTS``); nasplug's random, MdeNAS, PARSEC (K = 1 and
K = 4) and EoiNAS (while α learns) steps search nasplug's darts-cell space of
the same shape: 8 cells, C = 16, batches of 64 random 3×32×32 images, 10
classes. NNI's DARTS cell picks 2 inputs per node (an input choice over the
node's predecessors, an op choice on each), which is nasplug's ``slot``
factorisation (PARSEC's); nasplug's random, MdeNAS and EoiNAS decide each of the
14 edges of a cell (the ``edge`` factorisation, 14 ops run per cell against 8).

Every measurement is a fresh process (``--worker``): ``--warmup-steps``
unmeasured steps, then ``--steps`` timed steps with peak memory counted above
what the process held after the warm-up (``_common.PeakMemory``). Rounds
interleave the configurations; the summary is the median over rounds of each
configuration's median step. NNI is driven through its documented API (model
space, ``Classification`` evaluator, strategy, ``NasExperiment``) with a
Lightning callback around each training batch; nasplug through the engine's own
step (``_common.StepHarness``). Run it with the interpreter of the environment
``benchmarks/peers/setup.sh`` makes (it holds both frameworks):

    benchmarks/peers/.venv/bin/python benchmarks/peers/nni_side_by_side.py --out nni.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/_common.py

from _common import (  # noqa: E402
    MALLOC_ENV,
    PeakMemory,
    StepHarness,
    build_controller,
    environment,
    load_average,
    make_step,
    markdown_table,
    resolve_device,
    save,
    setup_torch,
    synchronize,
    synthetic_batches,
)

WORKER = "--worker"
RESULT = "nasplug-result: "
MIB = 2**20
NNI_STRATEGIES = ("RandomOneShot", "ENAS", "DARTS", "GumbelDARTS")
NASPLUG = {  # label → (controller, controller options)
    "nasplug random": ("random", {}),
    "nasplug mdenas": ("mdenas", {}),
    "nasplug parsec K=1": ("parsec", {"samples": 1}),
    "nasplug parsec K=4": ("parsec", {"samples": 4}),
    "nasplug eoinas": ("eoinas", {"warmup": 0}),
}
CONFIGURATIONS = [f"nni {name}" for name in NNI_STRATEGIES] + list(NASPLUG)
REFERENCES = ("nni RandomOneShot", "nni DARTS")


# ---------------------------------------------------------------------------- workers (one process each)


def nni_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec['steps']`` timed training batches of one NNI one-shot strategy on NNI's DARTS space."""
    import torch
    from nni.nas import strategy as nni_strategy
    from nni.nas.evaluator.pytorch import Classification, DataLoader
    from nni.nas.experiment import NasExperiment
    from nni.nas.hub.pytorch import DARTS as DartsSpace
    from torch.utils.data import TensorDataset

    device = resolve_device(spec["device"])
    batches = spec["warmup_steps"] + spec["steps"]
    size = (spec["batch_size"] * batches, 3, spec["input_size"], spec["input_size"])
    generator = torch.Generator().manual_seed(spec["seed"])

    def loader() -> Any:
        images = torch.randn(size, generator=generator)
        labels = torch.randint(10, (size[0],), generator=generator)
        return DataLoader(TensorDataset(images, labels), batch_size=spec["batch_size"], shuffle=False)

    timer = batch_timer(device, spec["warmup_steps"])
    evaluator = Classification(
        train_dataloaders=loader(),
        val_dataloaders=loader(),  # the one-shot strategies feed the architecture from it
        num_classes=10,
        max_epochs=1,
        limit_train_batches=batches,
        limit_val_batches=0,  # no validation pass: only search steps are measured
        num_sanity_val_steps=0,
        accelerator="gpu" if device.type == "cuda" else "cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    space = DartsSpace(width=spec["channels"], num_cells=spec["layers"], dataset="cifar")
    NasExperiment(space, evaluator, getattr(nni_strategy, spec["label"].removeprefix("nni "))()).run()
    if len(timer.seconds) != spec["steps"]:
        raise RuntimeError(f"NNI ran {len(timer.seconds)} timed batches, not {spec['steps']}")
    return {"seconds": timer.seconds, "peak_bytes": timer.peak, "method": timer.memory.method}


def batch_timer(device: Any, warmup: int) -> Any:
    """A Lightning callback: seconds of each training batch after ``warmup``, and their peak memory."""
    import pytorch_lightning as pl

    class BatchTimer(pl.Callback):
        def __init__(self) -> None:
            self.memory = PeakMemory(device)
            self.seconds: list[float] = []
            self.peak = 0
            self.started = 0.0

        def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, index: int) -> None:
            synchronize(device)
            if index == warmup:
                self.memory.start()
            self.started = time.perf_counter()

        def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any, index: int) -> None:
            synchronize(device)
            if index >= warmup:
                self.seconds.append(time.perf_counter() - self.started)
                self.peak = self.memory.peak()

    return BatchTimer()


def nasplug_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec['steps']`` timed engine steps of one nasplug controller on darts-cell of NNI's shape."""
    from nasplug.plugin import load_plugins
    from nasplug.core.space import DataShape

    device = resolve_device(spec["device"])
    hooks = load_plugins()
    space = hooks.build_space("darts-cell", DataShape(10, 3, spec["input_size"]),
                              {"layers": spec["layers"], "channels": spec["channels"]})
    name, options = NASPLUG[spec["label"]]
    harness = StepHarness(space, build_controller(name, space, options, spec["seed"]), name, device, hooks)
    train, search = synthetic_batches(space.data, spec["batch_size"], spec["seed"], device)
    memory = PeakMemory(device)
    seconds = []
    for index in range(spec["warmup_steps"] + spec["steps"]):
        if index == spec["warmup_steps"]:
            memory.start()
        synchronize(device)
        started = time.perf_counter()
        harness.step(make_step(index, 10), train, search)
        synchronize(device)
        if index >= spec["warmup_steps"]:
            seconds.append(time.perf_counter() - started)
    return {"seconds": seconds, "peak_bytes": memory.peak(), "method": memory.method}


def worker(spec: dict[str, Any]) -> None:
    setup_torch(spec["threads"], spec["seed"])
    run = nni_worker if spec["label"].startswith("nni ") else nasplug_worker
    print(RESULT + json.dumps(run(spec)), flush=True)  # NNI logs to stdout too: the answer is marked


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), WORKER, json.dumps(spec)]
    env = {**os.environ, **MALLOC_ENV, "OMP_NUM_THREADS": str(spec["threads"])}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"worker {spec['label']} failed:\n{done.stderr[-3000:]}")
    answers = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    return json.loads(answers[-1].removeprefix(RESULT))


# ---------------------------------------------------------------------------- driver


def summarise(records: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    summary = {}
    for label, rounds in records.items():
        summary[label] = {
            "step_s": statistics.median(statistics.median(r["seconds"]) for r in rounds),
            "peak_mib": statistics.median(r["peak_bytes"] for r in rounds) / MIB,
        }
    for label, s in summary.items():
        for reference in REFERENCES:
            if reference in summary:
                s[f"x_time_{reference}"] = s["step_s"] / summary[reference]["step_s"]
        if REFERENCES[0] in summary:
            s[f"x_memory_{REFERENCES[0]}"] = s["peak_mib"] / summary[REFERENCES[0]]["peak_mib"]
    return summary


def table(summary: dict[str, dict[str, float]]) -> str:
    headers = ["configuration", "s/step", "peak MiB", "time × NNI RandomOneShot", "time × NNI DARTS",
               "memory × NNI RandomOneShot"]

    def ratio(s: dict[str, float], key: str) -> str:
        return f"{s[key]:.2f}" if key in s else "n/a"

    rows = [[label, f"{s['step_s']:.3f}", f"{s['peak_mib']:.0f}", ratio(s, "x_time_nni RandomOneShot"),
             ratio(s, "x_time_nni DARTS"), ratio(s, "x_memory_nni RandomOneShot")] for label, s in summary.items()]
    return markdown_table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configurations", default=",".join(CONFIGURATIONS),
                        help="comma-separated labels (default: all): " + ", ".join(CONFIGURATIONS))
    parser.add_argument("--rounds", type=int, default=3, help="rounds, one fresh process per configuration each")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per process (default 5)")
    parser.add_argument("--warmup-steps", type=int, default=2, help="untimed first steps (default 2)")
    parser.add_argument("--layers", type=int, default=8, help="cells (default 8)")
    parser.add_argument("--channels", type=int, default=16, help="initial channels C (default 16)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--input-size", type=int, default=32)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    args = parser.parse_args()
    labels = args.configurations.split(",")
    unknown = sorted(set(labels) - set(CONFIGURATIONS))
    if unknown:
        parser.error(f"unknown configurations {unknown}; choose from {CONFIGURATIONS}")
    base = {k: getattr(args, k) for k in ("steps", "warmup_steps", "layers", "channels", "batch_size",
                                           "input_size", "device", "threads", "seed")}
    load_before = load_average()
    records: dict[str, list[dict[str, Any]]] = {label: [] for label in labels}
    for round_index in range(args.rounds):
        shift = round_index % len(labels)
        for label in labels[shift:] + labels[:shift]:
            result = run_worker({**base, "label": label})
            records[label].append(result)
            print(f"  round {round_index + 1} {label}: {statistics.median(result['seconds']):.3f} s/step, "
                  f"{result['peak_bytes'] / MIB:.0f} MiB", flush=True)
    load_after = load_average()
    summary = summarise(records)
    print()
    print(table(summary))
    save(args.out, {
        "benchmark": "nni_side_by_side",
        "environment": {**environment(resolve_device(args.device)), "nni": _nni_version()},
        "load_average": {"start": load_before, "end": load_after},
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "summary": summary,
        "rounds": records,
        "table": table(summary),
    })


def _nni_version() -> str:
    from importlib.metadata import version

    return version("nni")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == WORKER:
        worker(json.loads(sys.argv[2]))
    else:
        main()
