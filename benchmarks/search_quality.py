"""Search quality on digits in the protocol of Yang et al., "NAS evaluation is frustratingly hard" (ICLR 2020).

Every method searches the quickstart's supernet (``nasplug.search.defaults``
for digits: 3 cells, C = 32, batch 32, 60 epochs — the budget of #13 part 1)
once per seed; its genotype is retrained from scratch under one fixed protocol
and scored by test top-1. N genotypes drawn uniformly from the space (random
scores through the space's own derivation rule) are retrained under the same
protocol: the random-sampling baseline. Reported per method: mean top-1 over
seeds with a bootstrap 95 % interval, its percentile among the uniform
genotypes, and the relative improvement RI = 100 · (acc_m − acc_r) / acc_r
over the uniform mean (Yang et al., Eq. 1), with a bootstrap interval that
resamples both the seeds and the uniform genotypes.

Methods: random search with weight sharing (uniform single-path sampling, the
genotype scored by each choice's mean search accuracy), MdeNAS (the paper's
final-p rule; the same searches re-derived with ``derive=frequency``),
EoiNAS (warm-up and prune interval at the paper's 1/8 of the search), PARSEC
(K samples per step, so 1/K of the epochs: the same compute as one
single-path search) and the first-order DARTS mixture (every op runs, so a
few epochs cost what the single-path search costs; ``--darts-epochs``).

Besides retraining, each search is asked whether its learnt distribution
points where its own supernet is better: M uniform single-path architectures
are evaluated on the search split with the final shared weights, each
choice's *supernet accuracy* is the mean over the architectures that take
it, and Kendall τ between it and the choice's final probability is averaged
over the decisions.

    python benchmarks/search_quality.py --out benchmarks/results/search_quality.json
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from scipy import stats

from _common import DARTS, DartsMixture, Method, pick_methods, environment, load_average, markdown_table, save, setup_torch
from nasplug.core.architecture import Architecture, Decision
from nasplug.runs.files import write_json
from nasplug.runs.checkpoint import load_checkpoint
from nasplug.plugin import load_plugins
from nasplug.runs.progress import Progress
from nasplug.search import SearchConfig, SearchEngine, run_search
from nasplug.runs.checkpoint import checkpoint_paths
from nasplug.search.defaults import search_defaults
from nasplug.core.space import SearchSpace
from nasplug.train import train_network, training_config
from nasplug_mdenas import MdeNAS

DATASET = "digits"
SPACE = "darts-cell"
BOOTSTRAP_DRAWS = 10_000
MDENAS_FREQUENCY = "mdenas, derive=frequency"
"""Not a search of its own: the MdeNAS searches' final state derived by the H^e share."""


def methods(args: argparse.Namespace) -> list[Method]:
    epochs = args.search_epochs
    eighth = max(1, epochs // 8)  # EoiNAS Alg. 1: 20 warm-up epochs and a prune every 20 of 160
    every = {
        "random search": Method("random search", "random", {"derive": "accuracy"}, epochs),
        "mdenas": Method("mdenas", "mdenas", {}, epochs),
        "eoinas": Method("eoinas", "eoinas", {"warmup": eighth, "interval": eighth}, epochs),
        "parsec": Method(f"parsec K={args.parsec_k}", "parsec", {"samples": args.parsec_k},
                         max(1, epochs // args.parsec_k)),
        DARTS: Method("darts (first order)", DARTS, {}, args.darts_epochs),
    }
    return pick_methods(every, args.methods)


# ---------------------------------------------------------------------------- jobs (worker processes)


def search_config(method: Method, seed: int, args: argparse.Namespace) -> SearchConfig:
    return SearchConfig(
        space=SPACE, controller=method.controller, dataset=DATASET, epochs=method.epochs,
        batch_size=args.search_batch_size, seed=seed,
        space_options={"layers": args.search_layers, "channels": args.search_channels},
        controller_options=method.options, device=args.device, eval_derived=False, keep_checkpoints=1,
    )


def search_job(method: Method, seed: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """One search: its genotype(s), time, and how its final distribution relates to its supernet."""
    setup_torch(args.threads, seed)
    config = search_config(method, seed, args)
    controller = DartsMixture if method.controller == DARTS else None
    run_dir = work / f"search-{method.controller}-{seed}"
    started = time.perf_counter()
    result = run_search(config, run_dir, controller=controller, threads=args.threads, hooks=load_plugins())
    seconds = time.perf_counter() - started
    state = load_checkpoint(checkpoint_paths(run_dir)[-1])
    engine = SearchEngine(config, run_dir, load_plugins(), Progress(False), controller=controller)
    engine.restore(state)
    genotypes = {method.label: result.genotype.to_json()}
    if method.controller == "mdenas":
        rereader = MdeNAS(engine.space, {**method.options, "derive": "frequency"}, seed=seed)
        rereader.load_state_dict(state["controller"])
        genotypes[MDENAS_FREQUENCY] = rereader.derive_genotype(engine.space).to_json()
    distribution = result.history[-1]["distribution"]
    return {
        "seed": seed,
        "search_seconds": seconds,
        "genotypes": genotypes,
        "search_accuracy_last_epoch": result.history[-1]["search_accuracy"],
        "tau": probability_supernet_tau(engine, distribution, args.supernet_architectures, seed),
    }


def probability_supernet_tau(
    engine: SearchEngine, distribution: Mapping[str, Sequence[float]], count: int, seed: int
) -> float | None:
    """Mean over decisions of Kendall τ_b between final probability and supernet accuracy per choice.

    The supernet accuracy of a choice is the mean search-split accuracy, with
    the search's final weights, of the sampled uniform architectures that take
    it. None where no decision has two distinct probabilities (random search).
    """
    decisions = _decisions_of(engine.space, distribution)
    generator = torch.Generator().manual_seed(seed)
    architectures = [
        Architecture.single_path({d.key: int(torch.randint(len(d), (), generator=generator)) for d in decisions})
        for _ in range(count)
    ]
    accuracies = [engine.evaluate(arch) for arch in architectures]
    taus = []
    for decision in decisions:
        sums = np.zeros(len(decision))
        visits = np.zeros(len(decision))
        for arch, accuracy in zip(architectures, accuracies):
            sums[arch.choice(decision.key)] += accuracy
            visits[arch.choice(decision.key)] += 1
        seen = visits > 0
        probabilities = np.asarray(distribution[decision.key])[seen]
        if len(set(probabilities.tolist())) < 2:
            continue
        tau = stats.kendalltau(probabilities, (sums / np.maximum(visits, 1))[seen]).statistic
        if not np.isnan(tau):
            taus.append(float(tau))
    return statistics.fmean(taus) if taus else None


def _decisions_of(space: SearchSpace, distribution: Mapping[str, Sequence[float]]) -> tuple[Decision, ...]:
    """The space's decisions in the factorisation the controller reported its distribution in."""
    for factorisation in space.factorisations:
        decisions = space.decisions(factorisation)
        if {d.key for d in decisions} == set(distribution):
            return decisions
    raise SystemExit("the controller's distribution matches none of the space's factorisations")


def retrain_job(genotype: Mapping[str, Any], seed: int, tag: str, args: argparse.Namespace, work: Path) -> float:
    """Test top-1 of ``genotype`` trained from scratch under the fixed protocol."""
    setup_torch(args.threads, seed)
    path = work / f"genotype-{tag}.json"
    write_json(path, dict(genotype))
    hooks = load_plugins()
    config = training_config(
        str(path), hooks=hooks, dataset=DATASET,
        network_options={"layers": args.train_layers, "channels": args.train_channels, "drop_path": 0.0},
        epochs=args.train_epochs, batch_size=args.train_batch_size, auxiliary_weight=0.0, seed=seed,
        device=args.device, keep_checkpoints=1,
    )
    return train_network(config, work / f"train-{tag}", hooks=hooks, threads=args.threads).top1


def uniform_genotypes(args: argparse.Namespace) -> list[dict[str, Any]]:
    """N uniform genotypes: random scores through the space's own derivation rule (seeded)."""
    shape = load_plugins().dataset_shape(DATASET)
    space = load_plugins().build_space(SPACE, shape, {"layers": args.search_layers,
                                                       "channels": args.search_channels})
    generator = torch.Generator().manual_seed(args.seed + 1000)
    return [
        space.genotype_from_scores(
            {d.key: torch.rand(len(d), generator=generator).tolist() for d in space.decisions()}
        ).to_json()
        for _ in range(args.uniform)
    ]


# ---------------------------------------------------------------------------- the run


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    chosen = methods(args)
    context = multiprocessing.get_context("spawn")
    searches: dict[str, list[dict[str, Any]]] = {method.label: [] for method in chosen}
    retrained: dict[tuple[str, int], float] = {}
    uniform = uniform_genotypes(args)
    test_images = len(load_plugins().load_dataset(DATASET, None, augment=False).test)
    uniform_top1: list[float | None] = [None] * len(uniform)
    with ProcessPoolExecutor(args.workers, mp_context=context) as pool:
        pending: dict[Future, tuple[str, Any]] = {}
        for method in chosen:  # the searches first: the longest jobs, and their retraining follows
            for seed in args.seeds:
                pending[pool.submit(search_job, method, seed, args, work)] = ("search", method.label)
        for index, genotype in enumerate(uniform):
            seed = args.seeds[index % len(args.seeds)]
            pending[pool.submit(retrain_job, genotype, seed, f"uniform-{index}", args, work)] = ("uniform", index)
        while pending:
            future = next(as_completed(pending))
            kind, key = pending.pop(future)
            try:
                value = future.result()
            except BaseException:
                pool.shutdown(cancel_futures=True)  # a failed job stops the run, not after every queued one
                raise
            if kind == "search":
                searches[key].append(value)
                print(f"search {key} seed {value['seed']}: {value['search_seconds']:.0f} s, "
                      f"τ(p, supernet) {value['tau']}", flush=True)
                for label, genotype in value["genotypes"].items():
                    tag = f"{label}-{value['seed']}".replace(" ", "_").replace(",", "").replace("=", "-")
                    job = pool.submit(retrain_job, genotype, value["seed"], tag, args, work)
                    pending[job] = ("retrain", (label, value["seed"]))
            elif kind == "retrain":
                retrained[key] = value
                print(f"retrained {key[0]} seed {key[1]}: top-1 {value:.4f}", flush=True)
            else:
                uniform_top1[key] = value
                print(f"uniform genotype {key}: top-1 {value:.4f}", flush=True)
    summary = summarise(chosen, searches, retrained, uniform, [float(v) for v in uniform_top1], args)
    return {**summary, "test_images": test_images}


def summarise(
    chosen: Sequence[Method],
    searches: Mapping[str, list[dict[str, Any]]],
    retrained: Mapping[tuple[str, int], float],
    uniform: list[dict[str, Any]],
    uniform_top1: list[float],
    args: argparse.Namespace,
) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    baseline = np.asarray(uniform_top1)
    labels = [m.label for m in chosen]
    if any(m.controller == "mdenas" for m in chosen):
        labels.insert(labels.index("mdenas") + 1, MDENAS_FREQUENCY)
    rows = {}
    for label in labels:
        source = "mdenas" if label == MDENAS_FREQUENCY else label
        runs = sorted(searches[source], key=lambda r: r["seed"])
        top1 = np.asarray([retrained[(label, r["seed"])] for r in runs])
        taus = [r["tau"] for r in runs if r["tau"] is not None]
        rows[label] = {
            "top1": top1.tolist(),
            "mean": float(top1.mean()),
            "ci95": bootstrap_mean_interval(top1, rng),
            "percentile": float(stats.percentileofscore(baseline, top1.mean(), kind="mean")),
            "ri": relative_improvement(top1.mean(), baseline.mean()),
            "ri_ci95": bootstrap_ri_interval(top1, baseline, rng),
            "search_seconds": statistics.fmean(r["search_seconds"] for r in runs),
            "search_accuracy_last_epoch": statistics.fmean(r["search_accuracy_last_epoch"] for r in runs),
            "tau_probability_supernet": statistics.fmean(taus) if taus else None,
            "genotypes": [r["genotypes"][label] for r in runs],
        }
    return {
        "methods": rows,
        "method_settings": {m.label: attrs.asdict(m) for m in chosen},
        "uniform": {
            "top1": uniform_top1,
            "genotypes": uniform,
            "mean": float(baseline.mean()),
            "ci95": bootstrap_mean_interval(baseline, rng),
            "min": float(baseline.min()),
            "max": float(baseline.max()),
        },
    }


def relative_improvement(accuracy: float, baseline: float) -> float:
    """Yang et al. (2020) Eq. 1: RI = 100 · (Acc_m − Acc_r) / Acc_r."""
    return 100.0 * (accuracy - baseline) / baseline


def bootstrap_mean_interval(values: np.ndarray, rng: np.random.Generator) -> list[float]:
    """Percentile bootstrap 95 % interval of the mean."""
    draws = rng.choice(values, size=(BOOTSTRAP_DRAWS, len(values)), replace=True).mean(axis=1)
    return np.percentile(draws, [2.5, 97.5]).tolist()


def bootstrap_ri_interval(top1: np.ndarray, baseline: np.ndarray, rng: np.random.Generator) -> list[float]:
    """95 % interval of RI, resampling the method's seeds and the uniform genotypes independently."""
    method = rng.choice(top1, size=(BOOTSTRAP_DRAWS, len(top1)), replace=True).mean(axis=1)
    reference = rng.choice(baseline, size=(BOOTSTRAP_DRAWS, len(baseline)), replace=True).mean(axis=1)
    return np.percentile(100.0 * (method - reference) / reference, [2.5, 97.5]).tolist()


def table(result: Mapping[str, Any], seeds: Sequence[int]) -> str:
    headers = ["method", *[f"top-1 seed {s}" for s in seeds], "mean [95 % CI]", "percentile among uniform",
               "RI % [95 % CI]", "τ(p, supernet acc.)", "search s", "search acc. last epoch"]
    rows = []
    for label, row in result["methods"].items():
        tau = "—" if row["tau_probability_supernet"] is None else f"{row['tau_probability_supernet']:+.2f}"
        low, high = row["ci95"]
        ri_low, ri_high = row["ri_ci95"]
        rows.append([label, *[f"{v:.4f}" for v in row["top1"]],
                     f"{row['mean']:.4f} [{low:.4f}, {high:.4f}]", f"{row['percentile']:.0f}",
                     f"{row['ri']:+.2f} [{ri_low:+.2f}, {ri_high:+.2f}]", tau,
                     f"{row['search_seconds']:.0f}", f"{row['search_accuracy_last_epoch']:.3f}"])
    uniform = result["uniform"]
    low, high = uniform["ci95"]
    rows.append([f"uniform genotypes (N = {len(uniform['top1'])})", *[""] * len(seeds),
                 f"{uniform['mean']:.4f} [{low:.4f}, {high:.4f}]", "50", "0", "—", "—", "—"])
    spread = (f"Uniform genotypes: top-1 from {uniform['min']:.4f} to {uniform['max']:.4f}; "
              f"one of the {result['test_images']} test images is {1 / result['test_images']:.4f}.")
    return f"{markdown_table(headers, rows)}\n\n{spread}"


def main() -> None:
    defaults = search_defaults(DATASET)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", default=["random search", "mdenas", "eoinas", "parsec", DARTS],
                        help="any of: 'random search' mdenas eoinas parsec darts")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="search and retraining seeds")
    parser.add_argument("--uniform", type=int, default=20, help="uniform genotypes N (default 20)")
    parser.add_argument("--search-epochs", type=int, default=defaults["epochs"])
    parser.add_argument("--search-batch-size", type=int, default=defaults["batch_size"])
    parser.add_argument("--search-layers", type=int, default=defaults["layers"])
    parser.add_argument("--search-channels", type=int, default=defaults["channels"])
    parser.add_argument("--parsec-k", type=int, default=4, help="PARSEC samples K; it gets 1/K of the epochs")
    parser.add_argument("--darts-epochs", type=int, default=6,
                        help="DARTS mixture epochs (default 6: about one single-path search's time)")
    parser.add_argument("--supernet-architectures", type=int, default=64,
                        help="uniform architectures M behind each choice's supernet accuracy")
    parser.add_argument("--train-epochs", type=int, default=8, help="the fixed retraining protocol")
    parser.add_argument("--train-batch-size", type=int, default=64)
    parser.add_argument("--train-layers", type=int, default=3)
    parser.add_argument("--train-channels", type=int, default=16)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument("--workers", type=int, default=2, help="parallel jobs (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the uniform genotypes and the bootstrap")
    parser.add_argument("--work", type=Path, help="folder for runs (default: a temporary folder)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="nasplug-quality-"))
    work.mkdir(parents=True, exist_ok=True)

    load_before = load_average()
    started = time.perf_counter()
    cpu_before = _children_cpu_seconds()
    result = run(args, work)
    seconds = time.perf_counter() - started
    text = table(result, args.seeds)
    print()
    print(text)
    cpu = _children_cpu_seconds() - cpu_before
    print(f"\n{seconds:.0f} s in all, {cpu:.0f} CPU-seconds in the workers, load {load_before} → {load_average()}")
    save(args.out, {
        "benchmark": "search_quality",
        "environment": environment(torch.device(args.device)),
        "load_average": {"start": load_before, "end": load_average()},
        "seconds": seconds,
        "worker_cpu_seconds": cpu,
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        **result,
        "table": text,
    })


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
