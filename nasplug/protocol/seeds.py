"""The papers' seed protocol: N searches, a stated pick, M evaluation seeds, mean ± std.

MdeNAS runs its search several times (§5.3), PARSEC reports two searches with five evaluation
initialisations each (mean ± std), EoiNAS keeps the best of four searches. :func:`run_protocol`
does any of these over recipes: search ``i`` (from 1) is an ordinary run folder
``OUT/search-i`` with seed ``seed + i - 1``; each picked search's genotype is trained in the
ordinary training folder ``OUT/eval-i-j`` with seed ``seed + j - 1``. A member whose
folder holds its final file (``genotype.json``, ``results.json``) is read, not run again; one
that was interrupted is resumed from its checkpoint; so rerunning the same command after a
kill finishes the protocol. ``OUT/protocol.json`` records the plan and the results, written
atomically after every member.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import attrs

from nasplug import api
from nasplug.core.errors import NasplugError
from nasplug.core.schema import SEED_RANGE, field_problems
from nasplug.plugin import Hooks, load_plugins
from nasplug.recipes import recipe_for
from nasplug.runs.files import read_json_file, write_json
from nasplug.runs.run_config import CONFIG_FILE
from nasplug.search.engine import GENOTYPE_FILE, HISTORY_FILE
from nasplug.train.trainer import RESULTS_FILE

PROTOCOL_FILE = "protocol.json"
SET_BY_PROTOCOL = {
    "search": ("recipe", "out", "options", "seed", "hooks", "progress", "threads", "data"),
    "train": ("genotype", "recipe", "out", "options", "seed", "hooks", "progress", "threads", "data"),
}
"""Arguments of api.search / api.train the protocol sets itself (from its own options): not settings."""
PICKS = ("all", "search-accuracy")
"""``all``: evaluate every search's genotype; ``search-accuracy``: only the search whose derived
architecture scored best on its search split in its last epoch (``derived_accuracy`` where the run
measured it, else the sampled architectures' ``search_accuracy``)."""


class ProtocolError(NasplugError, RuntimeError):
    """A protocol's plan or folder cannot be used; the message says which and why."""


@attrs.frozen
class ProtocolPlan:
    """What a protocol runs: the recipes, how many searches and seeds, the pick, the overrides."""

    BOUNDS: ClassVar[dict[str, tuple[float, float]]] = {
        "searches": (1, 10_000), "eval_seeds": (1, 10_000), "seed": SEED_RANGE}
    """Every numeric field's inclusive range (nasplug.core.schema)."""

    search_recipe: str
    eval_recipe: str
    searches: int = 1
    eval_seeds: int = 1
    pick: str = "search-accuracy"
    seed: int = 0
    search_settings: Mapping[str, Any] = attrs.field(factory=dict)
    search_options: Mapping[str, Any] = attrs.field(factory=dict)
    train_settings: Mapping[str, Any] = attrs.field(factory=dict)
    train_options: Mapping[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        problems = field_problems(self)
        if problems:
            raise ProtocolError(f"the protocol's plan: {'; '.join(problems)}")
        if self.searches < 1 or self.eval_seeds < 1:
            raise ProtocolError(f"a protocol needs at least one search and one evaluation seed, got "
                                f"searches={self.searches}, eval_seeds={self.eval_seeds}")
        if self.pick not in PICKS:
            raise ProtocolError(f"unknown pick {self.pick!r}; available: {', '.join(PICKS)}")
        for command, settings in (("search", self.search_settings), ("train", self.train_settings)):
            taken = sorted(set(settings) & set(SET_BY_PROTOCOL[command]))
            if taken:
                raise ProtocolError(f"--{command} {', '.join(taken)}: set by the protocol, not a setting (use "
                                    f"--seed, --threads, --quiet, --out, --{command}-option or the recipes)")

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(attrs.asdict(self)))


@attrs.frozen
class Evaluation:
    """One evaluation seed's training of a picked search's genotype."""

    search: int
    seed: int
    folder: str
    top1: float


@attrs.frozen
class ProtocolResult:
    """Every search's criterion value, the picked ones, their evaluations and each one's mean ± std."""

    searches: list[dict[str, Any]]
    picked: list[int]
    evaluations: list[Evaluation]
    summary: list[dict[str, Any]]
    out: Path


def run_protocol(plan: ProtocolPlan, out: str | Path, *, hooks: Hooks | None = None,
                 progress: bool = True, threads: int | None = None,
                 say: Callable[[str], None] = lambda line: None) -> ProtocolResult:
    """Run (or finish) ``plan`` in folder ``out``; ``say`` reports each member as it starts or is skipped."""
    out = Path(out)
    hooks = hooks or load_plugins()
    check_plan(plan, hooks)  # before the folder is claimed: a mistyped name must not lock it
    _claim(out, plan)
    common = {"hooks": hooks, "progress": progress, "threads": threads}
    searches = []
    for index in range(1, plan.searches + 1):
        folder = out / f"search-{index}"
        _search(plan, folder, plan.seed + index - 1, common, say)
        searches.append({"search": index, "folder": folder.name, "seed": plan.seed + index - 1,
                         "criterion": search_criterion(folder)})
    picked = pick_searches(searches, plan.pick)
    evaluations: list[Evaluation] = []
    for index in picked:
        for seed_index in range(1, plan.eval_seeds + 1):
            folder = out / f"eval-{index}-{seed_index}"
            seed = plan.seed + seed_index - 1
            top1 = _evaluate(plan, out / f"search-{index}", folder, seed, common, say)
            evaluations.append(Evaluation(index, seed, folder.name, top1))
            _record(out, plan, searches, picked, evaluations)
    return _record(out, plan, searches, picked, evaluations)


def search_criterion(folder: Path) -> float:
    """The search's last-epoch accuracy on its search split: the derived architecture's, else the samples'."""
    path = folder / HISTORY_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"{path}: cannot read the search's history ({exc})") from exc
    try:
        last = json.loads(lines[-1])
        return float(last.get("derived_accuracy", last["search_accuracy"]))
    except IndexError:
        raise ProtocolError(f"{path}: no epoch recorded; remove {folder} to search again") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ProtocolError(f"{path}: the last line is not an epoch record ({exc}); remove {folder} to "
                            f"search again") from exc


def check_plan(plan: ProtocolPlan, hooks: Hooks) -> None:
    """Every recipe, setting and option of ``plan``, checked as the members will take them (no data loaded).

    The searches' genotypes do not exist yet: a published genotype of the search's space stands in
    for them in the evaluations' check (a space that publishes none has its recipe checked only).
    """
    config = api.search_config(recipe=plan.search_recipe, options=dict(plan.search_options), hooks=hooks,
                               **plan.search_settings)
    published = hooks.space_entry(config.space).cls.published_genotypes()
    if published:
        api.train_config(next(iter(published)), space=config.space, recipe=plan.eval_recipe,
                         options=dict(plan.train_options), hooks=hooks, **plan.train_settings)
    else:
        recipe_for(plan.eval_recipe, "train", hooks)


def pick_searches(searches: list[dict[str, Any]], pick: str) -> list[int]:
    """The searches to evaluate: all, or the one of highest criterion (the first on a tie)."""
    if pick == "all":
        return [entry["search"] for entry in searches]
    best = max(searches, key=lambda entry: entry["criterion"])
    return [best["search"]]


def mean_and_std(values: list[float]) -> tuple[float, float]:
    """The mean and the sample standard deviation (n − 1; 0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _claim(out: Path, plan: ProtocolPlan) -> None:
    """Refuse a folder that holds another plan's protocol (its members would not be this plan's)."""
    recorded = out / PROTOCOL_FILE
    if recorded.exists():
        saved = read_json_file(recorded, ProtocolError, "protocol file").get("plan")
        if saved != plan.to_json():
            raise ProtocolError(f"{out} holds a protocol with another plan ({recorded}); give another --out")
    elif out.exists() and any(out.iterdir()):
        raise ProtocolError(f"{out} is not empty and holds no {PROTOCOL_FILE}; give another --out")
    out.mkdir(parents=True, exist_ok=True)
    if not recorded.exists():
        write_json(recorded, {"format": 1, "plan": plan.to_json()})


def _search(plan: ProtocolPlan, folder: Path, seed: int, common: dict[str, Any],
            say: Callable[[str], None]) -> None:
    _member(folder, GENOTYPE_FILE, say, f"searching with seed {seed}",
            resume=lambda: api.resume_search(folder, **common),
            start=lambda: api.search(recipe=plan.search_recipe, out=folder, options=dict(plan.search_options),
                                     **{**plan.search_settings, "seed": seed}, **common))


def _evaluate(plan: ProtocolPlan, search: Path, folder: Path, seed: int, common: dict[str, Any],
              say: Callable[[str], None]) -> float:
    _member(folder, RESULTS_FILE, say, f"training {search.name}'s genotype with seed {seed}",
            resume=lambda: api.resume_training(folder, **common),
            start=lambda: api.train(str(search), recipe=plan.eval_recipe, out=folder,
                                    options=dict(plan.train_options), **{**plan.train_settings, "seed": seed},
                                    **common))
    return float(read_json_file(folder / RESULTS_FILE, ProtocolError, "results file")["top1"])


def _member(folder: Path, final_file: str, say: Callable[[str], None], starting: str,
            resume: Callable[[], object], start: Callable[[], object]) -> None:
    """Skip a member whose folder holds its final file, resume one that was interrupted, start a new one.

    A folder without config.json (killed before the run wrote it, e.g. while loading data) holds
    nothing to resume: the member starts afresh there.
    """
    if (folder / final_file).exists():
        say(f"{folder.name}: finished, skipped")
    elif (folder / CONFIG_FILE).exists():
        say(f"{folder.name}: resuming")
        resume()
    else:
        say(f"{folder.name}: {starting}")
        start()


def _record(out: Path, plan: ProtocolPlan, searches: list[dict[str, Any]], picked: list[int],
            evaluations: list[Evaluation]) -> ProtocolResult:
    summary = []
    for index in picked:
        top1 = [evaluation.top1 for evaluation in evaluations if evaluation.search == index]
        if top1:
            mean, std = mean_and_std(top1)
            summary.append({"search": index, "seeds": len(top1), "top1_mean": mean, "top1_std": std})
    write_json(out / PROTOCOL_FILE, {
        "format": 1,
        "plan": plan.to_json(),
        "searches": searches,
        "pick": plan.pick,
        "picked": picked,
        "evaluations": [attrs.asdict(evaluation) for evaluation in evaluations],
        "summary": summary,
    })
    return ProtocolResult(searches, picked, evaluations, summary, out)
