"""Search quality on digits: each controller's genotype against random genotypes, retrained alike.

For every controller and seed s a search runs on digits (the engine, a small
darts-cell supernet); its derived genotype is retrained from scratch with
seed s under one fixed budget. N genotypes drawn uniformly from the space
(the space's derivation rule applied to uniform random scores) are retrained
under the same budget with every seed. Each controller is reported as the
mean ± std of its test top-1 over seeds and as its percentile among the
random genotypes' mean top-1 (ties count half). The performance-ranking
hypothesis of MdeNAS is measured on the same data: Kendall τ between each
epoch's ranking of sampled children and their final ranking.

    python benchmarks/search_quality.py --out search_quality.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from scipy import stats

from _common import environment, load_average, markdown_table, resolve_device, save, setup_torch
from nasplug.checkpoint import write_json
from nasplug.data import load_dataset
from nasplug.plugins import load_plugins
from nasplug.ranking import run_ranking_experiment
from nasplug.search import SearchConfig, run_search
from nasplug.space import SearchSpace
from nasplug.train import train_network, training_config

DATASET = "digits"
SPACE = "darts-cell"
TARGET_PERCENTILE = 75.0


def controller_options(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Paper settings scaled to the short search: EoiNAS keeps its 1/8 warm-up and 7 prunes."""
    if name == "parsec":
        return {"samples": args.parsec_k}
    if name == "eoinas":  # paper: 160 epochs = 20 warm-up + 7 prunes every 20
        eighth = max(1, args.search_epochs // 8)
        return {"warmup": eighth, "interval": eighth}
    return {}


def search(name: str, seed: int, args: argparse.Namespace, work: Path) -> tuple[Path, float]:
    """Run one search; (its genotype.json, seconds)."""
    config = SearchConfig(
        space=SPACE,
        controller=name,
        dataset=DATASET,
        epochs=args.search_epochs,
        batch_size=args.search_batch_size,
        seed=seed,
        space_options={"layers": args.search_layers, "channels": args.search_channels},
        controller_options=controller_options(name, args),
        device=args.device,
        eval_derived=False,  # only the final genotype is needed
        keep_checkpoints=1,
    )
    started = time.perf_counter()
    result = run_search(config, work / f"search-{name}-{seed}")
    return result.run_dir / "genotype.json", time.perf_counter() - started


def random_genotypes(space: SearchSpace, count: int, seed: int, work: Path) -> list[Path]:
    """``count`` uniform genotypes: random scores through the space's own derivation rule."""
    generator = torch.Generator().manual_seed(seed)
    paths = []
    for index in range(count):
        scores = {d.key: torch.rand(len(d), generator=generator).tolist() for d in space.decisions()}
        path = work / f"random-genotype-{index}.json"
        write_json(path, space.genotype_from_scores(scores).to_json())
        paths.append(path)
    return paths


def retrain(genotype: Path, seed: int, args: argparse.Namespace, out: Path) -> float:
    """Final test top-1 of ``genotype`` trained from scratch with the fixed budget."""
    config = training_config(
        str(genotype),
        dataset=DATASET,
        network_options={"layers": args.train_layers, "channels": args.train_channels, "drop_path": 0.0},
        epochs=args.train_epochs,
        batch_size=args.train_batch_size,
        auxiliary_weight=0.0,
        seed=seed,
        device=args.device,
        keep_checkpoints=1,
    )
    return train_network(config, out).top1


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    shape = load_dataset(DATASET, None, augment=False).shape
    options = {"layers": args.search_layers, "channels": args.search_channels}
    space = load_plugins().build_space(SPACE, shape, options)
    controllers: dict[str, dict[str, Any]] = {}
    for name in args.controllers.split(","):
        runs = []
        for seed in args.seeds:
            print(f"search {name} seed {seed} ...", flush=True)
            genotype, seconds = search(name, seed, args, work)
            top1 = retrain(genotype, seed, args, work / f"train-{name}-{seed}")
            runs.append({"seed": seed, "search_seconds": seconds, "top1": top1,
                         "genotype": _read(genotype)})
            print(f"  retrained: top-1 {top1:.4f} (search {seconds:.0f}s)", flush=True)
        controllers[name] = {"options": controller_options(name, args), "runs": runs}

    baseline = []
    for index, path in enumerate(random_genotypes(space, args.random, args.seed + 1000, work)):
        top1 = [retrain(path, seed, args, work / f"train-random-{index}-{seed}") for seed in args.seeds]
        baseline.append({"genotype": _read(path), "top1": top1, "mean": statistics.fmean(top1)})
        print(f"uniform genotype {index}: top-1 {' '.join(f'{t:.4f}' for t in top1)}", flush=True)

    random_means = [entry["mean"] for entry in baseline]
    for entry in controllers.values():
        top1 = [run["top1"] for run in entry["runs"]]
        entry["mean"], entry["std"] = mean_std(top1)
        entry["percentile"] = float(stats.percentileofscore(random_means, entry["mean"], kind="mean"))
        entry["meets_target"] = entry["percentile"] >= TARGET_PERCENTILE

    print(f"ranking: {args.rank_architectures} children, {args.rank_epochs} epochs ...", flush=True)
    ranking = run_ranking_experiment(
        SPACE, DATASET, architectures=args.rank_architectures, epochs=args.rank_epochs,
        batch_size=args.search_batch_size, seed=args.seed, space_options=options, device=args.device,
    )
    return {
        "controllers": controllers,
        "random_genotypes": baseline,
        "random_summary": {
            "mean": statistics.fmean(random_means),
            "std": statistics.stdev(random_means) if len(random_means) > 1 else 0.0,
            "min": min(random_means),
            "max": max(random_means),
            "percentile_75": float(torch.tensor(random_means).quantile(0.75)),
        },
        "ranking": {"mean_tau": ranking.mean_tau, "taus": ranking.taus, "accuracies": ranking.accuracies},
    }


def _read(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def tables(result: dict[str, Any], seeds: list[int]) -> str:
    headers = ["genotype", *[f"top-1 seed {s}" for s in seeds], "mean ± std",
               "percentile among uniform genotypes", f"≥ {TARGET_PERCENTILE:.0f}th", "search s (mean)"]
    rows = []
    for name, entry in result["controllers"].items():
        top1 = [f"{r['top1']:.4f}" for r in entry["runs"]]
        seconds = statistics.fmean(r["search_seconds"] for r in entry["runs"])
        verdict = "yes" if entry["meets_target"] else "no"
        rows.append([f"{name} search", *top1, f"{entry['mean']:.4f} ± {entry['std']:.4f}",
                     f"{entry['percentile']:.0f}", verdict, f"{seconds:.0f}"])
    for index, entry in enumerate(result["random_genotypes"]):
        values = entry["top1"]
        mean, std = mean_std(values)
        top1 = [f"{t:.4f}" for t in values]
        rows.append([f"uniform genotype #{index}", *top1, f"{mean:.4f} ± {std:.4f}", "", "", ""])
    summary = result["random_summary"]
    ranking = result["ranking"]
    taus = ", ".join("—" if t is None else f"{t:.2f}" for t in ranking["taus"])
    mean_tau = "undefined" if ranking["mean_tau"] is None else f"{ranking['mean_tau']:.3f}"
    spread = (f"Uniform genotypes (mean over seeds): mean {summary['mean']:.4f} ± {summary['std']:.4f}, "
              f"range {summary['min']:.4f}–{summary['max']:.4f}, "
              f"75th percentile {summary['percentile_75']:.4f}.")
    ranking_table = markdown_table(
        ["ranking hypothesis", "Kendall τ per epoch vs final", "mean τ (epochs before last)"],
        [[f"{len(ranking['accuracies'])} children", taus, mean_tau]],
    )
    return f"{markdown_table(headers, rows)}\n\n{spread}\n\n{ranking_table}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--controllers", default="random,mdenas,parsec,eoinas", help="comma-separated")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="search and retraining seeds")
    parser.add_argument("--random", type=int, default=8, help="random genotypes N (default 8)")
    parser.add_argument("--search-epochs", type=int, default=8)
    parser.add_argument("--search-batch-size", type=int, default=32)
    parser.add_argument("--search-layers", type=int, default=3)
    parser.add_argument("--search-channels", type=int, default=8)
    parser.add_argument("--parsec-k", type=int, default=4, help="PARSEC samples K (default 4)")
    parser.add_argument("--train-epochs", type=int, default=4, help="the fixed retraining budget")
    parser.add_argument("--train-batch-size", type=int, default=64)
    parser.add_argument("--train-layers", type=int, default=3)
    parser.add_argument("--train-channels", type=int, default=8)
    parser.add_argument("--rank-architectures", type=int, default=8)
    parser.add_argument("--rank-epochs", type=int, default=4)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="seed of the random genotypes and the ranking")
    parser.add_argument("--work", type=Path, help="folder for runs (default: a temporary folder)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    args = parser.parse_args()
    setup_torch(args.threads, args.seed)
    device = resolve_device(args.device)
    work = args.work or Path(tempfile.mkdtemp(prefix="nasplug-quality-"))

    load_before = load_average()
    started = time.perf_counter()
    result = run(args, work)
    seconds = time.perf_counter() - started
    text = tables(result, args.seeds)
    print()
    print(text)
    print(f"\n{seconds:.0f} s in all")
    save(args.out, {
        "benchmark": "search_quality",
        "environment": environment(device),
        "load_average": {"start": load_before, "end": load_average()},
        "seconds": seconds,
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        **result,
        "table": text,
    })


if __name__ == "__main__":
    main()
