"""The ``nasplug`` command line: run, show, info, plugins (and train, ranking)."""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from nasplug import api
from nasplug.api import RunInterrupted, Spelling, route_options
from nasplug.core.errors import NasplugError
from nasplug.core.options import parse_assignments
from nasplug.core.schema import SEED_RANGE
from nasplug.runs.settings import Setting
from nasplug.plugin import load_plugins
from nasplug.protocol.command import protocol
from nasplug.recipes import load_recipe
from nasplug.runs.folder import default_run_dir, fresh_output_dir
from nasplug.runs.origin import taken_from_run
from nasplug.runs.progress import Progress, resume_hint
from nasplug.search.settings import SEARCH_SETTINGS
from nasplug.train.ranking import PLOT_FILE, RESULT_FILE, run_ranking_experiment
from nasplug.train.settings import TRAIN_SETTINGS

Command = TypeVar("Command", bound=Callable[..., Any])


class NasplugGroup(click.Group):
    """Turns every user-facing error into one line on stderr and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NasplugError as exc:
            raise click.ClickException(str(exc)) from exc
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=NasplugGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nasplug")
def main() -> None:
    """Plugin-extensible neural architecture search (MdeNAS, PARSEC, EoiNAS, your own)."""


class HelpWithExamples(click.Command):
    """A command whose ``--help`` ends with examples and, if asked, the installed plugins' ``-o`` options."""

    def __init__(self, *args: Any, examples: tuple[str, ...] = (), plugin_options: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.examples = examples
        self.plugin_options = plugin_options

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self.examples:
            with formatter.section("Examples"):
                for line in self.examples:
                    formatter.write(f"{'':>{formatter.current_indent}}{line}\n")
        if self.plugin_options:
            hooks = load_plugins()
            rows = [(f"space {name}", f"-o {key}={option.default}  {option.help}")
                    for name, entry in sorted(hooks.spaces().items())
                    for key, option in sorted(entry.cls.options.items())]
            for name, entry in sorted(hooks.controllers().items()):
                try:
                    options = entry.load().options
                except NasplugError as exc:
                    rows.append((f"controller {name}", f"BROKEN: {exc}"))
                    continue
                rows += [(f"controller {name}", f"-o {key}={option.default}  {option.help}")
                         for key, option in sorted(options.items())]
            with formatter.section("Options of the installed spaces and controllers"):
                formatter.write_dl(rows)


option_logger = click.option(
    "--logger",
    "loggers",
    multiple=True,
    metavar="NAMES",
    help="Loggers for every epoch's record, comma-separated: csv, tensorboard or an installed one "
    "(docs/loggers.md). Repeatable.",
)


option_assignments = click.option(
    "-o",
    "--option",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="A controller or space option (see `nasplug plugins`); prefix with controller. or space. "
    "where both have the key. Repeatable.",
)


def _given(ctx: click.Context, names: list[str]) -> list[str]:
    return [n for n in names if ctx.get_parameter_source(n) is not click.core.ParameterSource.DEFAULT]


option_recipe = click.option(
    "--recipe", metavar="NAME|FILE",
    help="Take every setting from a recipe (`nasplug recipes` lists them); flags given override it.",
)


COMMAND_LINE = Spelling(out="--out", resume="--resume {path}")
"""How ``nasplug run`` names another folder and the resume when refusing a used ``--out``."""

option_threads = click.option(
    "--threads", type=click.IntRange(min=1),
    help="CPU threads for torch. Default: 1 (fastest for small runs on shared CPUs); "
         "a resume: the run's own.",
)
option_quiet = click.option("--quiet", is_flag=True, help="Print only the final summary.")


def setting_options(table: Sequence[Setting]) -> Callable[[Command], Command]:
    """The click option of every setting in ``table``, in its order (nasplug.runs.settings)."""

    def decorate(command: Command) -> Command:
        for setting in reversed(table):
            flag = f"{setting.option}/--no-{setting.option[2:]}" if setting.switch else setting.option
            command = click.option(setting.name, flag, default=setting.default, help=setting.help,
                                   show_default=setting.default is not None, **setting.flag)(command)
        return command

    return decorate


def given_settings(ctx: click.Context, table: Sequence[Setting]) -> dict[str, Any]:
    """The settings set on the command line, by name: a flag left at its default gives way to the recipe."""
    return {name: ctx.params[name] for name in _given(ctx, [setting.name for setting in table])}


def refuse_settings_with_resume(ctx: click.Context, what: str) -> None:
    """``--resume`` takes every setting from the folder; any other flag but these few is refused."""
    kept = ("resume", "quiet", "threads", "loggers")
    configured = [name for name in _given(ctx, list(ctx.params)) if name not in kept]
    if configured:
        dropped = ", ".join("--" + n.replace("_", "-") for n in configured)
        raise NasplugError(f"--resume takes the configuration from the {what}; drop {dropped}")


@main.command(cls=HelpWithExamples, plugin_options=True, examples=(
    "nasplug run --space darts-cell --controller mdenas --dataset digits",
    "nasplug run --recipe mdenas-cifar10 --data-dir data/",
    "nasplug run --space darts-cell --controller parsec -o samples=16 --epochs 10 --out runs/p16",
    "nasplug run --resume runs/p16 --threads 2",
))
@option_recipe
@click.option("--space", help="Search space name (`nasplug plugins` lists them).")
@click.option("--controller", help="Controller name (`nasplug plugins` lists them).")
@setting_options(SEARCH_SETTINGS)
@click.option("--out", type=click.Path(), help="Run directory (default: a new folder under runs/).")
@click.option("--resume", type=click.Path(),
              help="Continue the run in this directory (or from this checkpoint file).")
@option_threads
@option_quiet
@option_logger
@option_assignments
@click.pass_context
def run(ctx: click.Context, **params: Any) -> None:
    """Search: learn a distribution over a space's architectures and derive a genotype."""
    if params["resume"]:
        refuse_settings_with_resume(ctx, "run")
    hooks = load_plugins()
    common = {"progress": not params["quiet"], "threads": params["threads"], "hooks": hooks,
              "loggers": params["loggers"]}
    try:
        if params["resume"]:
            result = api.resume_search(params["resume"], **common)
        else:
            result = api.search(params["space"], params["controller"], **search_arguments(ctx),
                                out=params["out"], spelling=COMMAND_LINE, **common)
    except RunInterrupted as stop:
        interrupted(stop, "run")
    if not main_process():  # under torchrun every process runs this command; rank 0 alone prints
        return
    space_cls = hooks.space_entry(result.genotype.space).cls
    click.echo(space_cls.describe(result.genotype))
    click.echo(f"genotype written to {result.run_dir / 'genotype.json'}")
    if result.summary is not None:
        for line in result.summary.lines(result.run_dir):
            click.echo(line)
        click.echo(f"summary written to {result.run_dir / 'summary.json'}")


def search_arguments(ctx: click.Context) -> dict[str, Any]:
    """What ``nasplug run`` gives :func:`nasplug.api.search_config` beyond space and controller."""
    return {"recipe": ctx.params["recipe"], "options": parse_assignments(ctx.params["assignments"]),
            **given_settings(ctx, SEARCH_SETTINGS)}


def main_process() -> bool:
    """False on torchrun's ranks but 0, which run the same command and leave the summary to rank 0."""
    return int(os.environ.get("WORLD_SIZE", "1")) <= 1 or int(os.environ.get("RANK", "0")) == 0


def interrupted(stop: RunInterrupted, command: str) -> NoReturn:
    """Ctrl-C during ``run``/``train``: one clean line with the command that continues, exit status 130."""
    from nasplug.runs.checkpoint import checkpoint_paths

    stop.progress.interrupted(resume_hint(command, stop.folder, bool(checkpoint_paths(stop.folder))))
    sys.exit(130)


@main.group(cls=NasplugGroup, invoke_without_command=True)
@click.pass_context
def recipes(ctx: click.Context) -> None:
    """List the recipes: each paper's search and evaluation settings (`recipes show NAME` prints one)."""
    if ctx.invoked_subcommand is not None:
        return
    hooks = load_plugins()
    for name, entry in sorted(hooks.recipes().items()):
        if entry.conflict:
            click.echo(f"  {name:<26} BROKEN: {entry.conflict}")
            continue
        recipe = load_recipe(name, hooks)
        click.echo(f"  {name:<26} nasplug {recipe.command:<6} {entry.provider.distribution:<15} "
                   f"{recipe.description}")


@recipes.command("show")
@click.argument("reference", metavar="NAME|FILE")
def recipes_show(reference: str) -> None:
    """Print one recipe's TOML, comments and all."""
    click.echo(load_recipe(reference, load_plugins()).text, nl=False)


@main.command()
@click.argument("genotype")
@click.option("--space", help="The genotype's space, where the reference alone does not say.")
def show(genotype: str, space: str | None) -> None:
    """Print a genotype readably: a file, a run or training directory, or a published name."""
    from nasplug.networks.genotypes import load_genotype

    entry, loaded = load_genotype(genotype, load_plugins(), space)
    click.echo(f"{genotype} ({entry.name})")
    click.echo(entry.cls.describe(loaded))
    _echo_benchmark(entry.cls.benchmark_results(loaded))


def _echo_benchmark(results: Mapping[str, float]) -> None:
    """A tabular benchmark's numbers for a genotype (nothing for a space without a table)."""
    if results:
        click.echo("benchmark:")
        width = max(map(len, results))
        for name, value in results.items():
            click.echo(f"  {name:<{width}}  {value:.4g}")


@main.command()
@click.option("--genotype", "reference", required=True, help="A genotype file, run directory or published name.")
@click.option("--space", help="The genotype's space, where the reference alone does not say.")
@click.option("--dataset", help="Sets classes, channels and input size: digits, cifar10, cifar100, imagenet, "
              "folder (with --data-dir) or a plugin's. Default: a run folder's own, else the space's "
              "(cifar10 for darts-cell, imagenet for proxyless-mbv2).")
@click.option("--data-dir", type=click.Path(), help="The dataset's folder, where its shape comes from files "
              "(folder).")
@click.option("--input-size", type=click.IntRange(min=1), help="Override the dataset's input size.")
@click.option("--layers", type=click.IntRange(min=1), help="Cells of the network (cell spaces).")
@click.option("--channels", type=click.IntRange(min=1), help="Initial channels (cell spaces).")
@click.option("-o", "--option", "assignments", multiple=True, metavar="KEY=VALUE",
              help="A network option of the genotype's space (`nasplug plugins` lists them). Repeatable.")
def info(reference: str, space: str | None, dataset: str | None, data_dir: str | None, input_size: int | None,
         layers: int | None, channels: int | None, assignments: tuple[str, ...]) -> None:
    """Parameters and multiply-adds of the network `nasplug train` would build from a genotype."""
    from nasplug.networks.cost import model_cost

    given: dict[str, Any] = dict(parse_assignments(assignments))
    for name, value in (("layers", layers), ("channels", channels)):
        if value is not None:
            given[name] = value
    built = api.info_network(reference, hooks=load_plugins(), dataset=dataset, data_dir=data_dir,
                             input_size=input_size, space=space, options=given)
    taken = taken_from_run(reference, {"dataset": dataset, "data_dir": data_dir, "input_size": input_size})
    if taken:
        click.echo(taken)
    cost = model_cost(built.module, built.data)
    described = ", ".join(f"{k}={v}" for k, v in built.options.items())
    size = built.data.input_size
    click.echo(f"{reference} on {built.space.name} ({described}); {built.dataset} {size}x{size}, "
               f"{built.data.num_classes} classes")
    click.echo(f"parameters     {cost.parameters / 1e6:.6f} M  (auxiliary head excluded: "
               f"{cost.auxiliary_parameters / 1e6:.6f} M)")
    click.echo(f"multiply-adds  {cost.macs / 1e6:.2f} M")
    _echo_benchmark(built.space.cls.benchmark_results(built.genotype))


@main.command(cls=HelpWithExamples, examples=(
    "nasplug train --genotype runs/<run> --dataset digits",
    "nasplug train --genotype DARTS_V2 --dataset cifar10 --data-dir data/",
    "nasplug train --recipe mdenas-cifar10-eval --data-dir data/",
    "nasplug train --resume runs/<train-run>",
))
@option_recipe
@click.option("--genotype", "reference", help="A genotype file, run or training directory, published name.")
@click.option("--space", help="The genotype's space, where the reference alone does not say.")
@setting_options(TRAIN_SETTINGS)
@click.option("--out", type=click.Path(), help="Output directory (default: a new folder under runs/).")
@click.option("--resume", type=click.Path(file_okay=False),
              help="Continue the training in this directory.")
@option_threads
@option_quiet
@option_logger
@click.option("-o", "--option", "assignments", multiple=True, metavar="KEY=VALUE",
              help="A network option of the genotype's space (see docs/train.md). Repeatable.")
@click.pass_context
def train(ctx: click.Context, **params: Any) -> None:
    """Train a genotype's network from scratch with its paper's protocol; report test top-1/top-5."""
    if params["resume"]:
        refuse_settings_with_resume(ctx, "directory")
    common = {"progress": not params["quiet"], "threads": params["threads"], "loggers": params["loggers"]}
    try:
        if params["resume"]:
            result = api.resume_training(params["resume"], **common)
        else:
            result = api.train(params["reference"], **train_arguments(ctx), out=params["out"], **common)
    except RunInterrupted as stop:
        interrupted(stop, "train")
    cost = result.cost
    click.echo(f"test top-1 {100 * result.top1:.2f} %  top-5 {100 * result.top5:.2f} %  "
               f"parameters {cost.parameters / 1e6:.6f} M  multiply-adds {cost.macs / 1e6:.2f} M  "
               f"({result.wall_time:.0f} s)")
    click.echo(f"results written to {result.out_dir / 'results.json'}")


def train_arguments(ctx: click.Context) -> dict[str, Any]:
    """What ``nasplug train`` gives :func:`nasplug.api.train_config` beyond the genotype."""
    return {"recipe": ctx.params["recipe"], "space": ctx.params["space"],
            "options": parse_assignments(ctx.params["assignments"]), **given_settings(ctx, TRAIN_SETTINGS)}


RANKING_DEFAULTS = {name: parameter.default for name, parameter in inspect.signature(run_ranking_experiment).parameters.items()}
"""``nasplug ranking``'s defaults: those of :func:`~nasplug.train.ranking.run_ranking_experiment`, written there once."""


@main.command()
@click.option("--space", required=True, help="Search space to sample from (`nasplug plugins` lists them).")
@click.option("--dataset", default="digits", show_default=True,
              help="digits, cifar10, cifar100, imagenet, folder (with --data-dir ROOT) or a plugin's.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where the dataset files are (or go).")
@click.option("--architectures", type=click.IntRange(min=2), default=10, show_default=True,
              help="How many architectures to sample and train (N).")
@click.option("--epochs", type=click.IntRange(min=2), default=10, show_default=True,
              help="Epochs to train each one (E).")
@click.option("--batch-size", type=click.IntRange(min=1), default=RANKING_DEFAULTS["batch_size"], show_default=True)
@click.option("--layers", type=click.IntRange(min=1), help="Cells of each network (spaces that have cells).")
@click.option("--channels", type=click.IntRange(min=1), help="Initial channels of each network.")
@click.option("--seed", type=click.IntRange(*SEED_RANGE), default=RANKING_DEFAULTS["seed"], show_default=True,
              help="Seeds the sampling, weights and data.")
@click.option("--device", default=RANKING_DEFAULTS["device"], show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--out", type=click.Path(), help="Output directory (default: a new folder under runs/).")
@click.option("--quiet", is_flag=True, help="Print only the result.")
@click.option("-o", "--option", "assignments", multiple=True, metavar="KEY=VALUE",
              help="A space option (see `nasplug plugins`). Repeatable.")
def ranking(**params: Any) -> None:
    """MdeNAS's ranking-hypothesis experiment: Kendall τ of each epoch's ranking with the final one."""
    hooks = load_plugins()
    space_cls = hooks.space_entry(params["space"]).cls
    given = parse_assignments(params["assignments"])
    for name in ("layers", "channels"):
        if params[name] is not None:
            given[name] = str(params[name])
    _, space_options = route_options(given, {}, space_cls.options)
    chosen = Path(params["out"]) if params["out"] else default_run_dir(params["space"], "ranking")
    out = fresh_output_dir(chosen, resume=None)
    progress = Progress(enabled=not params["quiet"])
    progress.message(f"training {params['architectures']} architectures of {params['space']} on "
                     f"{params['dataset']} for {params['epochs']} epochs each; writing {out}")
    result = run_ranking_experiment(
        params["space"], params["dataset"], hooks=hooks, architectures=params["architectures"], epochs=params["epochs"],
        batch_size=params["batch_size"], seed=params["seed"], space_options=space_options,
        data_dir=params["data_dir"], out_dir=out, device=params["device"], progress=progress,
    )
    for epoch, tau in enumerate(result.taus, start=1):
        click.echo(f"epoch {epoch:>3}  Kendall tau {'undefined' if tau is None else f'{tau:+.3f}'}")
    mean = "undefined" if result.mean_tau is None else f"{result.mean_tau:.3f}"
    click.echo(f"mean tau over epochs 1-{result.epochs - 1}: {mean}  (MdeNAS reports 0.474 on CIFAR-10)")
    written = [name for name in (RESULT_FILE, PLOT_FILE) if (out / name).is_file()]
    click.echo(f"written to {out}: {', '.join(written)}")


@main.command()
def plugins() -> None:
    """List the installed spaces, datasets and controllers, the distribution providing each, their options."""
    hooks = load_plugins()
    click.echo("spaces:")
    for name, entry in sorted(hooks.spaces().items()):
        if entry.conflict:
            click.echo(f"  {name:<18} BROKEN: {entry.conflict}")
            continue
        click.echo(f"  {name:<18} {entry.provider.distribution} {entry.provider.version}  {entry.cls.description}")
        _echo_options(entry.cls.options)
        if entry.cls.network_options:
            click.echo("      network (train, info):")
            _echo_options(entry.cls.network_options)
    click.echo("datasets:")
    for name, dentry in sorted(hooks.datasets().items()):
        if dentry.conflict:
            click.echo(f"  {name:<18} BROKEN: {dentry.conflict}")
            continue
        click.echo(f"  {name:<18} {dentry.provider.distribution} {dentry.provider.version}  "
                   f"{dentry.info.description}")
    click.echo("controllers:")
    for name, centry in sorted(hooks.controllers().items()):
        where = f"{centry.provider.distribution} {centry.provider.version}"
        try:
            cls = centry.load()
        except NasplugError as exc:
            click.echo(f"  {name:<18} {where}  BROKEN: {exc}")
            continue
        click.echo(f"  {name:<18} {where}  {cls.description}")
        _echo_options(cls.options)
    click.echo("cost models (--cost-model, docs/hardware-aware-search.md):")
    for name, mentry in sorted(hooks.cost_models().items()):
        if mentry.conflict:
            click.echo(f"  {name:<18} BROKEN: {mentry.conflict}")
            continue
        click.echo(f"  {name:<18} {mentry.provider.distribution} {mentry.provider.version}  "
                   f"{mentry.cls.description} [{mentry.cls.quantity}]")
    modules = [p for p in hooks.providers.values() if p.distribution != "nasplug"]
    if modules or hooks.broken:
        click.echo("plugin modules:")
        for provider in modules:
            click.echo(f"  {provider.plugin:<18} {provider.distribution} {provider.version}")
        for name, reason in sorted(hooks.broken.items()):
            click.echo(f"  {name:<18} BROKEN: {reason}")


def _echo_options(options: Mapping[str, Any]) -> None:
    for key, option in sorted(options.items()):
        assignment = f"-o {key}={option.default}"
        click.echo(f"      {assignment:<30} {option.help}")


@main.command("export")
@click.argument("reference", metavar="GENOTYPE|TRAIN_DIR")
@click.option("--format", "fmt", type=click.Choice(["pt2", "onnx", "safetensors"]), required=True,
              help="pt2 (torch.export), onnx, or safetensors weights with what rebuilds the network.")
@click.option("--out", type=click.Path(dir_okay=False), help="Output file (default: model.FORMAT here).")
@click.option("--space", help="The genotype's space, where the reference alone does not say.")
@click.option("--dataset", help="Classes, channels and input size (genotypes only; default: a search run's "
              "own, else the space's).")
@click.option("--input-size", type=click.IntRange(min=1), help="Override the dataset's input size.")
@click.option("--layers", type=click.IntRange(min=1), help="Cells of the network (cell spaces).")
@click.option("--channels", type=click.IntRange(min=1), help="Initial channels (cell spaces).")
@click.option("--seed", type=click.IntRange(*SEED_RANGE), default=0, show_default=True,
              help="Seeds a genotype's fresh weights.")
@click.option("--untrained", is_flag=True,
              help="Export a genotype or search run with freshly initialised weights (refused otherwise).")
@click.option("-o", "--option", "assignments", multiple=True, metavar="KEY=VALUE",
              help="A network option of the genotype's space. Repeatable.")
@click.option("--force", is_flag=True, help="Replace the output file if it exists (default: refuse).")
def export_command(reference: str, fmt: str, out: str | None, space: str | None, dataset: str | None,
                   input_size: int | None, layers: int | None, channels: int | None, seed: int,
                   untrained: bool, assignments: tuple[str, ...], force: bool) -> None:
    """Write a network that loads without nasplug: a trained one (TRAIN_DIR) or, with --untrained, a
    genotype's with fresh weights (a search run's at the run's data and shape).

    \b
    Examples:
      nasplug export runs/my-train --format pt2 --out net.pt2
      nasplug export runs/my-search --untrained --format onnx
      nasplug export DARTS_V2 --dataset cifar10 --untrained --format onnx
    """
    from nasplug.networks.export import SUFFIXES, export_network, refuse_export_overwrite

    target = Path(out) if out else Path("model" + SUFFIXES[fmt])
    refuse_export_overwrite(fmt, target, force)  # before any work: another run's files are never replaced unasked
    options: dict[str, Any] = dict(parse_assignments(assignments))
    for name, value in (("layers", layers), ("channels", channels)):
        if value is not None:
            options[name] = value
    built = api.exportable_network(reference, untrained=untrained, seed=seed, hooks=load_plugins(),
                                   dataset=dataset, input_size=input_size, space=space, options=options)
    path = export_network(built, fmt, target)
    taken = taken_from_run(reference, {"dataset": dataset, "input_size": input_size})
    if taken:
        click.echo(taken)
    size = built.data.input_size
    click.echo(f"{reference} ({built.space.name}, {built.data.in_channels}x{size}x{size} input, "
               f"{built.data.num_classes} classes) written to {path}")
    click.echo("weights: trained" if built.trained else f"weights: UNTRAINED (freshly initialised, seed {seed}); "
               f"{built.dataset} {size}x{size}, network {', '.join(f'{k}={v}' for k, v in built.options.items())}")
    if built.preprocessing is None:
        click.echo(f"preprocessing: not stored (the {built.dataset} files could not be read here)")


@main.command()
@click.argument("run_dirs", metavar="RUN_DIR...", nargs=-1, required=True, type=click.Path())
@click.option("--out", type=click.Path(file_okay=False),
              help="Folder for the pictures (default: RUN_DIR/plots; several runs: comparison/ beside the first).")
@click.option("--format", "formats", type=click.Choice(["png", "svg"]), multiple=True,
              help="Picture format; repeatable.  [default: png and svg]")
@click.option("--force", is_flag=True, help="Replace pictures already in --out (the default folders are "
              "always redrawn).")
def plot(run_dirs: tuple[str, ...], out: str | None, formats: tuple[str, ...], force: bool) -> None:
    """Draw a search: the derived architecture, every choice's probability over epochs, entropy, accuracy,
    loss and learning rate; given several runs, overlay their curves in one picture.

    \b
    Examples:
      nasplug plot runs/<run>       # writes runs/<run>/plots/{architecture,distribution,curves}.{png,svg}
      nasplug plot runs/seed0 runs/seed1 runs/seed2   # writes runs/comparison/comparison.{png,svg}
    """
    from nasplug.plots import FORMATS, plot_comparison, plot_run

    replace = force or out is None  # a folder the user names may hold their own pictures
    if len(run_dirs) > 1:
        written = plot_comparison(run_dirs, out, formats or FORMATS, replace=replace)
    else:
        written = plot_run(run_dirs[0], out, formats or FORMATS, hooks=load_plugins(), replace=replace)
    for path in written:
        click.echo(f"wrote {path}")


main.add_command(protocol)


def latency_protocol_options(command: Command) -> Command:
    """The flags of a latency measurement's protocol (nasplug.networks.latency), shared by two commands."""
    flags = [
        click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N."),
        click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True),
        click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32",
                     show_default=True, help="Weights and input in this dtype (fp16: CUDA only)."),
        click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
                     help="CPU threads for torch while timing."),
        click.option("--warmup", type=click.IntRange(min=0), default=10, show_default=True,
                     help="Untimed forwards before the timed ones."),
        click.option("--runs", type=click.IntRange(min=1), default=50, show_default=True,
                     help="Timed forwards; the median and spread are over these."),
    ]
    for flag in reversed(flags):
        command = flag(command)
    return command


@main.command()
@click.option("--genotype", "reference", required=True, help="A genotype file, run directory or published name.")
@click.option("--space", help="The genotype's space, where the reference alone does not say.")
@click.option("--dataset", help="Sets classes, channels and input size (default: the space's).")
@click.option("--input-size", type=click.IntRange(min=1), help="Override the dataset's input size.")
@click.option("--layers", type=click.IntRange(min=1), help="Cells of the network (cell spaces).")
@click.option("--channels", type=click.IntRange(min=1), help="Initial channels (cell spaces).")
@click.option("-o", "--option", "assignments", multiple=True, metavar="KEY=VALUE",
              help="A network option of the genotype's space. Repeatable.")
@latency_protocol_options
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write every timed run here.")
@click.option("--force", is_flag=True, help="Replace the --json file if it exists (default: refuse).")
def latency(reference: str, space: str | None, dataset: str | None, input_size: int | None,
            layers: int | None, channels: int | None, assignments: tuple[str, ...], json_out: str | None,
            force: bool, **protocol: Any) -> None:
    """Measured latency (ms) of a genotype's network: median and spread, warm-up excluded.

    \b
    Example:
      nasplug latency --genotype proxyless_cpu --threads 1 --runs 50
    """
    from nasplug.runs.files import refuse_overwrite, write_json

    if json_out:
        refuse_overwrite(Path(json_out), force, out="--json")  # before timing anything
    options: dict[str, Any] = dict(parse_assignments(assignments))
    for name, value in (("layers", layers), ("channels", channels)):
        if value is not None:
            options[name] = value
    report = api.latency(reference, space=space, dataset=dataset, input_size=input_size, options=options,
                         **protocol)
    used = report.protocol
    software = report.software
    click.echo(f"{reference}: batch {used.batch_size} x {used.input_size}x{used.input_size}, {used.precision}, "
               f"{used.threads} thread(s), {used.device} ({report.device_name})")
    click.echo(f"latency  {report.summary()}")
    click.echo(f"software python {software['python']}, torch {software['torch']}, "
               f"nasplug {software['versions'].get('nasplug', 'unknown')}")
    if json_out:
        write_json(Path(json_out), {"genotype": reference, **report.to_json()})


@main.command("latency-table")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Where the table goes (JSON).")
@click.option("--dataset", default="imagenet", show_default=True, help="Sets classes and input size.")
@click.option("--input-size", type=click.IntRange(min=1), help="Override the dataset's input size.")
@click.option("-o", "--option", "assignments", multiple=True, metavar="KEY=VALUE",
              help="An option of the proxyless-mbv2 space (skeleton, width_mult, kernels, ...). Repeatable.")
@click.option("--statistic", type=click.Choice(["median", "min"]), default="median", show_default=True,
              help="Each entry's statistic of its timed runs (min: the least disturbed run, where other jobs "
                   "share the machine).")
@latency_protocol_options
@click.option("--force", is_flag=True, help="Replace the --out file if it exists (default: refuse).")
def latency_table(out: str, dataset: str, input_size: int | None, assignments: tuple[str, ...], statistic: str,
                  force: bool, **protocol: Any) -> None:
    """Measure proxyless-mbv2's per-block latency table on this device (ProxylessNAS's predictor).

    \b
    Example:
      nasplug latency-table --out cpu.json --threads 1 --runs 20
      nasplug run --space proxyless-mbv2 --target latency=40ms --cost-model proxyless-lut:cpu.json ...
    """
    from nasplug.runs.files import refuse_overwrite

    refuse_overwrite(Path(out), force)  # before timing anything
    table = api.latency_table(out, dataset=dataset, input_size=input_size,
                              options=dict(parse_assignments(assignments)), progress=click.echo,
                              statistic=statistic, **protocol)
    blocks = sum(len(row) for row in table.blocks.values())
    click.echo(f"{blocks} block latencies ({statistic}s) and the fixed frame ({table.fixed_ms:.3f} ms) on "
               f"{table.report['device_name']}, written to {out}")
