"""How well proxyless-mbv2's per-block latency table predicts the measured network (issue #27, part 2).

Builds the lookup table on this device (`nasplug latency-table`'s code: every candidate of every block
timed as a standalone block at its input shape, plus the fixed frame), then samples ``--archs``
architectures (seeded) spread over the space's depths: each draws a share q ~ U(0, 1) and makes every
block that may be skipped `zero` with probability q, the other blocks a uniform MBConv candidate (a
uniform draw over the 7 choices would give networks of nearly one depth, whose latencies differ by
less than this shared machine's noise). Each network is timed with the table's protocol (`nasplug
latency`'s code) in ``--rounds`` interleaved rounds (every network once per round, so a burst of load
from other processes spreads over all of them); its latency is the median over all its timed runs.
Two tables are built, of medians and of minimums (``--table`` and its ``_min`` sibling), and each is
compared with the same statistic of the networks' runs: on a machine other jobs share, a block's short
runs are rarely preempted while a whole network's often are, which the median sees and the minimum not. Reports Pearson's r and Kendall's τ between the table's
sum and the measured median, and the mean relative error |predicted − measured| / measured. Each
network's line is appended to the output as it is measured.

    python benchmarks/lut_accuracy.py --threads 1 --table benchmarks/results/proxyless_lut_cpu.json \
        --out benchmarks/results/lut_accuracy_cpu.json
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from scipy import stats

from nasplug import api
from nasplug.core.architecture import Architecture
from nasplug.core.cost import genotype_of
from nasplug.networks.latency import LatencyProtocol, measure_latency
from nasplug.plugin import load_plugins
from nasplug.runs.files import write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", type=int, default=40, help="sampled architectures (default 40)")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds of --runs timed runs each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--table", type=Path, required=True, help="where the lookup table is written")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    hooks = load_plugins()
    started = time.perf_counter()
    tables = {statistic: api.latency_table(
        args.table.with_name(args.table.stem + ("" if statistic == "median" else "_min") + ".json"),
        input_size=args.input_size, device=args.device, threads=args.threads, warmup=args.warmup, runs=args.runs,
        statistic=statistic, hooks=hooks) for statistic in ("median", "min")}
    table = tables["median"]
    table_seconds = time.perf_counter() - started
    data = hooks.dataset_shape("imagenet")
    data = type(data)(data.num_classes, data.in_channels, args.input_size)
    space = hooks.build_space("proxyless-mbv2", data, {})
    protocol = LatencyProtocol(args.device, 1, "fp32", args.threads, args.input_size, args.warmup, args.runs)
    generator = torch.Generator().manual_seed(args.seed)
    networks = []
    for _ in range(args.archs):
        skip = float(torch.rand((), generator=generator))
        choices = {}
        for decision in space.decisions():
            candidates = [i for i, name in enumerate(decision.choices) if name != "zero"]
            skipped = "zero" in decision.choices and float(torch.rand((), generator=generator)) < skip
            pick = int(torch.randint(len(candidates), (), generator=generator))
            choices[decision.key] = decision.index("zero") if skipped else candidates[pick]
        architecture = Architecture.single_path(choices)
        names = {key: chosen[0] for key, chosen in architecture.to_json(space.decisions()).items()}
        genotype = genotype_of(space, architecture)
        networks.append((genotype, {key: t.network_ms(names) for key, t in tables.items()},
                         space.build_network(genotype, {})))
    times: list[list[float]] = [[] for _ in networks]
    rows = []
    result = {"table": str(args.table), "table_seconds": table_seconds, "protocol": protocol.to_json(),
              "rounds": args.rounds, "device_name": table.report["device_name"],
              "software": table.report["software"], "networks": rows}
    for round_ in range(args.rounds):
        for index, (_, predicted, network) in enumerate(networks):
            times[index] += measure_latency(network, data.in_channels, protocol).times_ms
        print(f"round {round_ + 1}/{args.rounds} done", flush=True)
    for (genotype, predicted, _), measured in zip(networks, times):
        q1, _, q3 = statistics.quantiles(measured, n=4, method="inclusive")
        rows.append({"blocks": genotype.to_json()["blocks"], "predicted_ms": predicted["median"],
                     "measured_ms": statistics.median(measured), "measured_q1_ms": q1, "measured_q3_ms": q3,
                     "predicted_min_ms": predicted["min"], "measured_min_ms": min(measured)})
        print(f"predicted {predicted['median']:8.3f} ms  measured {rows[-1]['measured_ms']:8.3f} ms  (min: "
              f"{predicted['min']:8.3f} against {min(measured):8.3f})", flush=True)
    print("| statistic | archs | Pearson r | Kendall τ | mean relative error | mean signed error |\n"
          "| --- | --- | --- | --- | --- | --- |")
    for statistic, suffix in (("median", ""), ("min", "_min")):
        predicted = [row[f"predicted{suffix}_ms"] for row in rows]
        measured = [row[f"measured{suffix}_ms"] for row in rows]
        summary = {
            "pearson_r": float(stats.pearsonr(predicted, measured)[0]),
            "kendall_tau": float(stats.kendalltau(predicted, measured)[0]),
            "mean_relative_error": statistics.fmean(abs(p - m) / m for p, m in zip(predicted, measured)),
            "mean_signed_relative_error": statistics.fmean((p - m) / m for p, m in zip(predicted, measured)),
        }
        result[statistic] = summary
        print(f"| {statistic} | {len(rows)} | {summary['pearson_r']:.3f} | {summary['kendall_tau']:.3f} | "
              f"{100 * summary['mean_relative_error']:.1f} % | {100 * summary['mean_signed_relative_error']:+.1f} % |")
    write_json(args.out, result)


if __name__ == "__main__":
    main()
