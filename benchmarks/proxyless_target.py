"""A proxyless-mbv2 search under a CPU-latency target on this machine, its derived network then measured (issue #27).

The latency table (``--table``, from `nasplug latency-table` on this machine: the deployed network,
width 1.0 at 224×224, 1000 classes, one thread) prices every sample; the search itself trains a proxy
(``--width-mult``, a CIFAR-10 subset of ``--subset`` images at ``--input-size`` pixels, ``--epochs``
epochs, one thread, seed 0) under ``--target latency=T --cost-model proxyless-lut-other-shape:TABLE``. The derived
genotype's network is then built as deployed and timed with `nasplug latency`'s protocol (batch 1,
fp32, one thread, 224×224; ``--rounds`` interleaved rounds with the MobileNetV2-like network as a
reference), and compared with the target and the table's prediction.

With ``--build-table`` the table is measured first, in the same process as the measurements; without
``--target-ms`` the target is ``--target-fraction`` of the table's prediction for the reference, so the
reference misses it and meeting it means something.

    python benchmarks/proxyless_target.py --data-dir /tmp/cifar --build-table \
        --table benchmarks/results/proxyless_target_lut_cpu.json --target-fraction 0.7 --epochs 2 \
        -o samples=2 --out benchmarks/results/proxyless_target_cpu.json
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from hardware_aware_nb201 import subset_cifar
from nasplug import api
from nasplug.networks.build import build_network
from nasplug.networks.latency import LatencyProtocol, measure_latency
from nasplug.networks.lookup_table import load_latency_table
from nasplug.plugin import load_plugins
from nasplug.runs.files import write_json
from nasplug.runs.progress import Progress
from nasplug.search import SearchConfig, run_search

REFERENCE = "benchmarks/genotypes/mobilenetv2_like.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--table", type=Path, required=True,
                        help="the latency table; with --build-table it is measured here first, in this session")
    parser.add_argument("--build-table", action="store_true")
    parser.add_argument("--table-runs", type=int, default=10)
    parser.add_argument("--target-ms", type=float,
                        help="the target; default: --target-fraction of the table's prediction for the reference")
    parser.add_argument("--target-fraction", type=float, default=0.8)
    parser.add_argument("--rule", default="hard", choices=("soft", "hard"))
    parser.add_argument("--controller", default="parsec")
    parser.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                        help="a controller option (repeatable)")
    parser.add_argument("--subset", type=int, default=5000)
    parser.add_argument("--input-size", type=int, default=16)
    parser.add_argument("--width-mult", type=float, default=0.35)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/proxyless_target"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    data_dir = subset_cifar(args.data_dir, args.subset, args.work)
    hooks = load_plugins()
    if args.build_table:  # the table and the measurements below come from one session on this machine
        api.latency_table(args.table, threads=1, warmup=3, runs=args.table_runs, hooks=hooks)
    table = load_latency_table(args.table)
    reference = build_network(REFERENCE, hooks=hooks, dataset="imagenet")
    protocol = LatencyProtocol("cpu", 1, "fp32", 1, 224, 5, args.runs)
    before = measure_latency(reference.module, 3, protocol).times_ms
    reference_predicted = table.network_ms(
        {f"block {i}": name for i, name in enumerate(reference.genotype.to_json()["blocks"], start=1)})
    if args.target_ms is None:  # below the reference, in the table's units the search sees: it must bind
        args.target_ms = round(args.target_fraction * reference_predicted, 1)
    options = dict(item.split("=", 1) for item in args.option)
    config = SearchConfig(
        space="proxyless-mbv2", controller=args.controller, dataset="cifar10", data_dir=str(data_dir),
        epochs=args.epochs, batch_size=64, seed=0, train_fraction=0.5, input_size=args.input_size,
        space_options={"width_mult": args.width_mult}, controller_options=options, device="cpu",
        keep_checkpoints=1, target=f"latency={args.target_ms:g}ms", cost_model=f"proxyless-lut-other-shape:{args.table}",
        target_rule=args.rule)
    run_dir = args.work / f"search-{args.controller}-{args.target_ms:g}ms"
    started = time.perf_counter()
    found = run_search(config, run_dir, threads=1, hooks=hooks, progress=Progress(False))
    seconds = time.perf_counter() - started
    blocks = found.genotype.to_json()["blocks"]
    predicted = table.network_ms({f"block {i}": name for i, name in enumerate(blocks, start=1)})

    networks = {"derived": build_network(str(run_dir), hooks=hooks, dataset="imagenet"),
                "MobileNetV2-like": reference}
    times: dict[str, list[float]] = {name: [] for name in networks}
    for _ in range(args.rounds):
        for name, network in networks.items():
            times[name] += measure_latency(network.module, 3, protocol).times_ms
    measured = {name: {"median_ms": statistics.median(values), "min_ms": min(values), "max_ms": max(values),
                       "q1_ms": statistics.quantiles(values, n=4, method="inclusive")[0],
                       "q3_ms": statistics.quantiles(values, n=4, method="inclusive")[2]}
                for name, values in times.items()}
    result = {
        "target_ms": args.target_ms, "rule": args.rule, "controller": args.controller, "options": options,
        "budget": {"subset": args.subset, "input_size": args.input_size, "width_mult": args.width_mult,
                   "epochs": args.epochs, "threads": 1, "seed": 0},
        "search_seconds": seconds, "genotype": blocks, "predicted_ms": predicted, "measured": measured,
        "table": {"path": str(args.table), "built_in_this_session": args.build_table, "runs": args.table_runs,
                  "statistic": table.statistic, "space_options": table.space_options,
                  "num_classes": table.num_classes, "input_size": table.input_size},
        "reference_predicted_ms": reference_predicted,
        "target_fraction_of_reference": args.target_ms / reference_predicted,
        "measured_fraction_of_reference": measured["derived"]["median_ms"] / measured["MobileNetV2-like"]["median_ms"],
        "predicted_fraction_of_reference": predicted / reference_predicted,
        "reference_median_before_search_ms": statistics.median(before),
        "reference_meets_target_median": measured["MobileNetV2-like"]["median_ms"] <= args.target_ms,
        "meets_target_median": measured["derived"]["median_ms"] <= args.target_ms,
        "history": [{key: record.get(key) for key in ("epoch", "search_accuracy", "search_cost", "search_reward",
                                                     "derived_accuracy", "derived_cost")}
                    for record in found.history],
        "protocol": protocol.to_json(), "runs_per_network": args.runs * args.rounds,
    }
    write_json(args.out, result)
    print(f"derived {blocks}\npredicted {predicted:.2f} ms; measured median {measured['derived']['median_ms']:.2f} ms "
          f"(min {measured['derived']['min_ms']:.2f}); target {args.target_ms:g} ms; MobileNetV2-like measured "
          f"{measured['MobileNetV2-like']['median_ms']:.2f} ms; search {seconds:.0f} s")


if __name__ == "__main__":
    main()
