"""``nasplug protocol``: the papers' seed protocol over two recipes, resumable by running it again."""

from __future__ import annotations

import tomllib
from typing import Any

import click

from nasplug.core.options import parse_assignments
from nasplug.core.schema import SEED_RANGE
from nasplug.protocol.seeds import PICKS, ProtocolPlan, run_protocol


def typed_settings(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs with TOML values (``epochs=2``, ``dataset=digits``: a bare word is a string)."""
    settings: dict[str, Any] = {}
    for key, value in parse_assignments(pairs).items():
        try:
            settings[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            settings[key] = value
    return settings


@click.command("protocol")
@click.option("--search-recipe", required=True, metavar="NAME|FILE", help="The `nasplug run` recipe of every search.")
@click.option("--eval-recipe", required=True, metavar="NAME|FILE", help="The `nasplug train` recipe of every evaluation.")
@click.option("--searches", type=click.IntRange(min=1), default=1, show_default=True,
              help="Searches N, seeds SEED … SEED+N−1 (MdeNAS §5.3: several; PARSEC: 2; EoiNAS: 4).")
@click.option("--pick", type=click.Choice(PICKS), default="search-accuracy", show_default=True,
              help="all: evaluate every search; search-accuracy: the search whose derived architecture scored "
                   "best on its search split in the last epoch.")
@click.option("--eval-seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Evaluation seeds M per picked search (PARSEC: 5), seeds SEED … SEED+M−1.")
@click.option("--seed", type=click.IntRange(*SEED_RANGE), default=0, show_default=True, help="The first seed.")
@click.option("--search", "search_pairs", multiple=True, metavar="KEY=VALUE",
              help="A `nasplug run` setting over the recipe (Python name: epochs=2, dataset=digits). Repeatable.")
@click.option("--search-option", "search_option_pairs", multiple=True, metavar="KEY=VALUE",
              help="A space or controller option (as `nasplug run -o`). Repeatable.")
@click.option("--train", "train_pairs", multiple=True, metavar="KEY=VALUE",
              help="A `nasplug train` setting over the recipe (epochs=1, layers=3). Repeatable.")
@click.option("--train-option", "train_option_pairs", multiple=True, metavar="KEY=VALUE",
              help="A network option (as `nasplug train -o`). Repeatable.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="The protocol's folder; the same command again skips finished members and resumes the rest.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads for torch (default 1).")
@click.option("--quiet", is_flag=True, help="Print only the members and the summary.")
def protocol(**params: Any) -> None:
    """N searches, a stated pick, M evaluation seeds each: the test top-1 as mean ± std."""
    plan = ProtocolPlan(
        search_recipe=params["search_recipe"], eval_recipe=params["eval_recipe"], searches=params["searches"],
        eval_seeds=params["eval_seeds"], pick=params["pick"], seed=params["seed"],
        search_settings=typed_settings(params["search_pairs"]),
        search_options=parse_assignments(params["search_option_pairs"]),
        train_settings=typed_settings(params["train_pairs"]),
        train_options=parse_assignments(params["train_option_pairs"]),
    )
    result = run_protocol(plan, params["out"], progress=not params["quiet"], threads=params["threads"],
                          say=click.echo)
    for entry in result.searches:
        click.echo(f"search {entry['search']} (seed {entry['seed']}): last-epoch search accuracy "
                   f"{100 * entry['criterion']:.2f} %")
    for line in result.summary:
        click.echo(f"search {line['search']}: test top-1 {100 * line['top1_mean']:.2f} ± "
                   f"{100 * line['top1_std']:.2f} % over {line['seeds']} seeds")
    click.echo(f"results written to {result.out / 'protocol.json'}")
