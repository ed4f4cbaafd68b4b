"""Search quality on real CIFAR-10, scored by NAS-Bench-201's table instead of retraining (issue #24).

Every method searches the nas-bench-201 space on CIFAR-10 in the benchmark's weight-sharing protocol
(Dong & Yang, ICLR 2020, §5; the authors' weight-sharing configuration): the 50,000 training images
split 25,000 / 25,000 into a weight-training and an architecture (search) split, batch 64, SGD with
Nesterov momentum 0.9, lr 0.025 cosine-annealed to 0.001, weight decay 5e-4, gradient clip 5. The
derived cell is looked up in the table: its 200-epoch CIFAR-10 test accuracy, its percentile among all
15,625 cells and its relative improvement over the space's mean, RI = 100 · (acc − mean) / mean
(Yang et al., ICLR 2020, Eq. 1).

Methods: random search with weight sharing (uniform single-path sampling; each edge takes the op with
the best mean search accuracy), MdeNAS, PARSEC, EoiNAS (Alg. 1's schedule shape: a warm-up as long as
one prune interval and four prunes, the last on the last epoch, so each edge ends with one op; ``none``
may be pruned, since here it is a real choice) and the first-order DARTS mixture (every op runs, so
fewer epochs cost the same).

Does the feedback mean anything? After each search, ``--tau-cells`` cells drawn uniformly are evaluated
on the final shared weights (the engine's deterministic evaluation, on the first ``--tau-images``
images of the search split): Kendall τ between that supernet accuracy and the table's accuracy
(``--tau-every K``: also after every K epochs, the curve of the supernet's ranking). And
per controller: Kendall τ, per edge, between its final probabilities and the benchmark's per-op
marginal quality (the mean table accuracy of all cells with that op on that edge), averaged over edges.

CPU budget (the default): one cell per stage (N = 1 instead of 5), images downsampled to 16×16, 10
epochs (5 for PARSEC, which trains K = 2 architectures per step; 3 for the DARTS mixture, whose epoch
costs about three single-path epochs); τ on 2,560 search images; 3 seeds; two worker processes of one
thread each. Every search uses all 25,000 + 25,000 images. The paper's scale
(``--paper-scale``): N = 5, C = 16, 32×32, 100 epochs (the authors' weight-sharing configuration),
PARSEC with K = 8 for 100 / 8 epochs, τ on the whole search split — for a GPU.

    python ../shared/data/cifar10/make.py /tmp/cifar
    python benchmarks/nb201_quality.py --data-dir /tmp/cifar --out benchmarks/results/nb201_quality.json
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from scipy import stats

from _common import (
    DARTS,
    DartsMixture,
    Method,
    environment,
    load_average,
    markdown_table,
    pick_methods,
    save,
    setup_torch,
)
from nasplug import Architecture
from nasplug.plugin import load_plugins
from nasplug.runs.checkpoint import checkpoint_paths, load_checkpoint
from nasplug.runs.progress import Progress
from nasplug.search import SearchConfig, SearchEngine, run_search
from nasplug_nb201 import Nb201Genotype
from nasplug_nb201.genotype import CELLS
from nasplug_nb201.decisions import DECISIONS
from nasplug_nb201.ops import OPS
from nasplug_nb201.table import ACCURACIES, load_table

SPACE = "nas-bench-201"
DATASET = "cifar10"
TRUTH = "cifar10_test"

PUBLISHED = {
    "DARTS-V1 (published)": (54.30, 0.00),
    "DARTS-V2 (published)": (54.30, 0.00),
    "ENAS (published)": (53.89, 0.58),
    "RSPS (published)": (87.66, 1.69),
    "SETN (published)": (87.64, 0.00),
    "GDAS (published)": (93.61, 0.09),
}
"""NAS-Bench-201 (ICLR 2020) Table 5, CIFAR-10 test accuracy (%) of the weight-sharing methods, mean ± std
over 3 runs of the paper's protocol (N = 5, C = 16, full 32×32 images, GPU)."""


def methods(args: argparse.Namespace) -> list[Method]:
    epochs = args.epochs
    # EoiNAS Alg. 1 spaces its prunes so the last falls on the last epoch, after a warm-up as long as one
    # interval (160 = 20 + 7 × 20 for 8 ops); 5 ops need 4 prunes: E = I + 4 I.
    fifth = max(1, round(epochs / 5))
    every = {
        "random": Method("random search (WS)", "random", {"derive": "accuracy"}, epochs),
        "mdenas": Method("MdeNAS", "mdenas", {}, epochs),
        "parsec": Method(f"PARSEC K={args.parsec_k}", "parsec", {"samples": args.parsec_k},
                         max(1, round(epochs / args.parsec_k))),
        "eoinas": Method("EoiNAS", "eoinas", {"warmup": fifth, "interval": fifth, "keep": ""}, epochs),
        DARTS: Method("DARTS mixture (1st order)", DARTS, {}, args.darts_epochs or max(1, round(epochs / 3))),
    }
    return pick_methods(every, args.methods)


def search_config(method: Method, seed: int, args: argparse.Namespace) -> SearchConfig:
    return SearchConfig(
        space=SPACE, controller=method.controller, dataset=DATASET, data_dir=str(args.data_dir),
        epochs=method.epochs, batch_size=64, seed=seed, lr=0.025, lr_min=0.001, momentum=0.9,
        nesterov=True, weight_decay=5e-4, grad_clip=5.0, train_fraction=0.5, input_size=args.input_size,
        space_options={"cells": args.cells, "channels": args.channels}, controller_options=method.options,
        device=args.device, keep_checkpoints=1,
    )


def tau_cells(count: int, seed: int) -> list[Nb201Genotype]:
    """``count`` cells drawn uniformly (the same cells for every search of one run)."""
    generator = np.random.default_rng(seed)
    return [Nb201Genotype.from_code(int(code)) for code in generator.choice(CELLS, size=count, replace=False)]


def supernet_accuracy(engine: SearchEngine, arch: Architecture, images: int | None) -> float:
    """The engine's deterministic evaluation, over the first ``images`` images of the search split."""
    correct = total = 0
    with torch.no_grad():
        for batch in engine.batches.plain_search(256):
            x, y = engine.precision.batch(batch)
            with engine.precision.autocast():
                correct += int((engine.supernet(x, arch).argmax(1) == y).sum())
            total += len(y)
            if images is not None and total >= images:
                break
    return correct / total


def op_marginals() -> dict[str, list[float]]:
    """Per edge, the mean table accuracy of all cells with each op on it (the benchmark's per-op quality)."""
    column = load_table().columns[TRUTH]
    codes = np.arange(CELLS)
    marginals = {}
    for position, decision in enumerate(DECISIONS):
        digit = codes // 5**position % 5
        marginals[decision.key] = [float(column[digit == op].mean()) for op in range(len(OPS))]
    return marginals


def search_job(method: Method, seed: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    setup_torch(args.threads, seed)
    config = search_config(method, seed, args)
    if args.tau_every:
        config = attrs.evolve(config, keep_checkpoints=0)  # every epoch's weights, for the τ curve
    controller = DartsMixture if method.controller == DARTS else None
    run_dir = work / f"search-{method.controller}-{seed}"
    started = time.perf_counter()
    result = run_search(config, run_dir, controller=controller, threads=args.threads, hooks=load_plugins(),
                        progress=Progress(False))
    seconds = time.perf_counter() - started
    table = load_table()
    genotype = result.genotype
    assert isinstance(genotype, Nb201Genotype)

    cells = tau_cells(args.tau_cells, args.tau_seed)
    truth = [table.value(cell, TRUTH) for cell in cells]
    started_tau = time.perf_counter()
    checkpoints = checkpoint_paths(run_dir)
    curve = {}
    for path in checkpoints:
        epoch = int(path.stem.split("-")[-1])
        if path == checkpoints[-1] or (args.tau_every and epoch % args.tau_every == 0):
            accuracies = supernet_accuracies(config, run_dir, controller, path, cells, args.tau_images)
            curve[epoch] = float(stats.kendalltau(accuracies, truth).statistic)
    distribution = result.history[-1]["distribution"]
    marginals = op_marginals()
    edge_taus = [stats.kendalltau(distribution[key], marginals[key]).statistic for key in marginals]
    edge_taus = [float(t) for t in edge_taus if not np.isnan(t)]
    return {
        "seed": seed,
        "genotype": genotype.to_string(),
        "accuracy": table.value(genotype, TRUTH),
        "percentile": table.percentile(genotype),
        "search_seconds": seconds,
        "tau_seconds": time.perf_counter() - started_tau,
        "supernet_tau": curve[max(curve)],
        "supernet_accuracy_range": [min(accuracies), max(accuracies)],
        "supernet_tau_by_epoch": curve,
        "probability_tau": statistics.fmean(edge_taus) if edge_taus else None,
        "distribution": distribution,
        "curve": [{key: record.get(key) for key in ("epoch", "train_accuracy", "search_accuracy",
                                                     "derived_accuracy")}
                  | {"benchmark": record["benchmark"][f"{ACCURACIES[TRUTH]} (%)"]}
                  for record in result.history],
    }


def supernet_accuracies(config: SearchConfig, run_dir: Path, controller: type | None, checkpoint: Path,
                        cells: Sequence[Nb201Genotype], images: int | None) -> list[float]:
    """Each cell's accuracy on the supernet weights of ``checkpoint`` (the engine's evaluation)."""
    engine = SearchEngine(config, run_dir, load_plugins(), Progress(False), controller=controller)
    engine.restore(load_checkpoint(checkpoint))
    return [supernet_accuracy(engine, engine.space.architecture_from_genotype(cell), images) for cell in cells]


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    chosen = methods(args)
    context = multiprocessing.get_context("spawn")
    searches: dict[str, list[dict[str, Any]]] = {method.label: [] for method in chosen}
    with ProcessPoolExecutor(args.workers, mp_context=context) as pool:
        pending: dict[Future, str] = {}
        for seed in args.seeds:  # seed-major: a partial run still covers every method
            for method in chosen:
                pending[pool.submit(search_job, method, seed, args, work)] = method.label
        for future in as_completed(pending):
            label = pending[future]
            value = future.result()
            searches[label].append(value)
            print(f"{label} seed {value['seed']}: {value['genotype']} {value['accuracy']:.2f} % "
                  f"(percentile {value['percentile']:.1f}), τ supernet {value['supernet_tau']:+.2f}, "
                  f"τ probabilities {value['probability_tau']}, {value['search_seconds']:.0f} s "
                  f"+ τ {value['tau_seconds']:.0f} s", flush=True)
            partial = summarise(chosen, searches)
            save(args.out, {**partial, "settings": settings(args, chosen), "complete": False})
    return summarise(chosen, searches)


def summarise(chosen: Sequence[Method], searches: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any]:
    column = load_table().columns[TRUTH]
    mean = float(column.mean())
    rows = {}
    for method in chosen:
        runs = sorted(searches[method.label], key=lambda r: r["seed"])
        if not runs:
            continue
        accuracy = np.array([r["accuracy"] for r in runs])
        probability_taus = [r["probability_tau"] for r in runs if r["probability_tau"] is not None]
        rows[method.label] = {
            "accuracy": accuracy.tolist(),
            "mean": float(accuracy.mean()),
            "std": float(accuracy.std()),
            "percentile": float(100.0 * np.mean(column <= accuracy.mean())),
            "ri": 100.0 * (float(accuracy.mean()) - mean) / mean,
            "supernet_tau": statistics.fmean(r["supernet_tau"] for r in runs),
            "probability_tau": statistics.fmean(probability_taus) if probability_taus else None,
            "search_seconds": statistics.fmean(r["search_seconds"] for r in runs),
            "runs": runs,
        }
    return {"methods": rows, "space": {"mean": mean, "p90": float(np.percentile(column, 90)),
                                       "best": float(column.max())}}


def settings(args: argparse.Namespace, chosen: Sequence[Method]) -> dict[str, Any]:
    return {
        "cells_per_stage": args.cells, "channels": args.channels, "input_size": args.input_size,
        "seeds": args.seeds, "workers": args.workers, "threads": args.threads,
        "tau_cells": args.tau_cells, "tau_images": args.tau_images,
        "methods": {m.label: attrs.asdict(m) for m in chosen},
        "protocol": "25k/25k split, batch 64, SGD nesterov 0.9, lr 0.025→0.001 cosine, wd 5e-4, clip 5",
    }


def report(result: Mapping[str, Any]) -> str:
    headers = ["method", "CIFAR-10 test % per seed", "mean ± std", "percentile", "RI % vs space mean",
               "τ supernet vs table", "τ probabilities vs op quality", "search s"]
    rows = []
    for label, row in result["methods"].items():
        taus = "—" if row["probability_tau"] is None else f"{row['probability_tau']:+.2f}"
        rows.append([label, ", ".join(f"{a:.2f}" for a in row["accuracy"]), f"{row['mean']:.2f} ± {row['std']:.2f}",
                     f"{row['percentile']:.1f}", f"{row['ri']:+.2f}", f"{row['supernet_tau']:+.2f}", taus,
                     f"{row['search_seconds']:.0f}"])
    for label, (mean, std) in PUBLISHED.items():
        rows.append([label, "", f"{mean:.2f} ± {std:.2f}", "", "", "", "", ""])
    return markdown_table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="folder holding cifar-10-batches-py/")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write (rewritten after each search)")
    parser.add_argument("--methods", nargs="+", default=["random", "mdenas", "parsec", "eoinas", DARTS])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, help="single-path search epochs (default 10; 100 at paper scale)")
    parser.add_argument("--darts-epochs", type=int,
                        help="DARTS mixture epochs (default --epochs / 3: a mixture epoch costs about 3 single-path ones)")
    parser.add_argument("--parsec-k", type=int, default=2, help="PARSEC samples per step; it gets epochs/K")
    parser.add_argument("--cells", type=int, default=1, help="cells per stage N (benchmark: 5)")
    parser.add_argument("--channels", type=int, default=16, help="channels C (benchmark: 16)")
    parser.add_argument("--input-size", type=int, default=16, help="image side (CIFAR-10: 32)")
    parser.add_argument("--tau-cells", type=int, default=100)
    parser.add_argument("--tau-images", type=int, default=2560, help="search images per τ evaluation")
    parser.add_argument("--tau-seed", type=int, default=201)
    parser.add_argument("--tau-every", type=int, default=0,
                        help="also measure the supernet's τ every K epochs (keeps every checkpoint)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--work", type=Path, help="folder for the search runs (default: next to --out)")
    parser.add_argument("--paper-scale", action="store_true",
                        help="N = 5, C = 16, 32×32, 100 epochs, τ on the whole search split (for a GPU)")
    args = parser.parse_args()
    if args.paper_scale:
        args.cells, args.channels, args.input_size, args.tau_images, args.parsec_k = 5, 16, 32, None, 8
    args.epochs = args.epochs or (100 if args.paper_scale else 10)
    setup_torch(args.threads, 0)  # the environment record states the workers' thread count
    work = args.work or args.out.with_suffix("")
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = run(args, work)
    result.update(settings=settings(args, methods(args)), complete=True,
                  environment=environment(torch.device(args.device)), load_average=load_average(),
                  wall_seconds=time.perf_counter() - started)
    save(args.out, result)
    print(report(result))


if __name__ == "__main__":
    main()
