"""Recipes: the machinery (names, files, overrides, errors) and the MdeNAS acceptance run on CIFAR files."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from nasplug import api
from nasplug.cli import main, search_arguments, train_arguments
from nasplug.plugin import PluginError, load_plugins
from nasplug.recipes import load_recipe
from nasplug.testing.cifar import write_cifar10

BUILT_IN = {"mdenas-cifar10", "mdenas-imagenet", "parsec-cifar10", "parsec-cifar10-finetune", "eoinas-cifar10",
            "mdenas-cifar10-eval", "mdenas-imagenet-eval", "parsec-cifar10-eval", "eoinas-cifar10-eval"}


def resolved_run(*args: str):
    """The SearchConfig `nasplug run ARGS` would run, resolved exactly as the command resolves it."""
    ctx = main.commands["run"].make_context("run", list(args))
    return api.search_config(ctx.params["space"], ctx.params["controller"], **search_arguments(ctx))


def resolved_train(*args: str):
    ctx = main.commands["train"].make_context("train", list(args))
    return api.train_config(ctx.params["reference"], **train_arguments(ctx))


def test_every_built_in_recipe_is_listed_and_resolves():
    hooks = load_plugins()
    assert BUILT_IN <= set(hooks.recipes())
    result = CliRunner().invoke(main, ["recipes"])
    assert result.exit_code == 0 and all(name in result.output for name in BUILT_IN)
    for name in sorted(BUILT_IN):
        recipe = load_recipe(name, hooks)
        if recipe.command == "run":
            config = resolved_run("--recipe", name)
            hooks.build_space(config.space, hooks.dataset_shape(config.dataset), config.space_options)
        elif recipe.settings.get("genotype"):
            resolved_train("--recipe", name)


def test_evaluation_recipes_without_a_genotype_take_one_from_the_command_line():
    imagenet = resolved_train("--recipe", "mdenas-imagenet-eval", "--genotype", "proxyless_gpu")
    # §5.1.2's lr 0.4 stands: the MobileNet recipe's lr-per-batch scaling applies only where no lr is set
    assert (imagenet.epochs, imagenet.batch_size, imagenet.lr, imagenet.schedule) == (120, 1024, 0.4, "cosine")
    assert (imagenet.weight_decay, imagenet.lr_min, imagenet.space) == (4e-5, 0.0, "proxyless-mbv2")
    parsec = resolved_train("--recipe", "parsec-cifar10-eval", "--genotype", "DARTS_V2")
    assert parsec.network_options["drop_path"] == 0.4 and parsec.cutout == 16
    result = CliRunner().invoke(main, ["train", "--recipe", "parsec-cifar10-eval"])
    assert result.exit_code == 1 and "names no genotype; give --genotype" in result.output


def test_recipes_show_prints_the_file_with_its_comments():
    result = CliRunner().invoke(main, ["recipes", "show", "mdenas-cifar10"])
    assert result.exit_code == 0
    assert "batch_size = 512" in result.output and "# §5.1.2" in result.output


def test_flags_given_override_the_recipe_and_defaults_do_not():
    config = resolved_run("--recipe", "mdenas-cifar10", "--epochs", "3", "-o", "alpha=0.02", "--layers", "4",
                          "-o", "reductions=1,3")
    assert config.epochs == 3 and config.controller_options["alpha"] == "0.02"
    assert config.space_options["layers"] == "4" and config.space_options["reductions"] == "1,3"
    assert config.lr_min == 0.0 and config.seed == 0  # --lr-min's default (0.001) does not beat the recipe
    assert resolved_run("--recipe", "mdenas-cifar10", "--search-split", "0.25").search_images is None
    train = resolved_train("--recipe", "eoinas-cifar10-eval", "--batch-size", "64", "--drop-path", "0.1")
    assert train.batch_size == 64 and train.network_options["drop_path"] == 0.1
    assert train.network_options["layers"] == 20


def test_a_recipe_file_can_be_given_by_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('command = "run"\n[settings]\nspace = "darts-cell"\ncontroller = "random"\nepochs = 2\n'
                    '[space]\nlayers = 3\n')
    config = resolved_run("--recipe", str(path))
    assert config.epochs == 2 and config.space_options == {"layers": 3, "channels": "32"}  # digits default


def test_an_unknown_recipe_lists_the_available_ones():
    result = CliRunner().invoke(main, ["run", "--recipe", "mdenas-cifar"])
    assert result.exit_code == 1
    assert "unknown recipe 'mdenas-cifar'" in result.output and "mdenas-cifar10" in result.output


@pytest.mark.parametrize(
    "body, message",
    [
        ('command = "run"\n[settings]\nspace = "darts-cell"\ncontroller = "random"\nepoch = 5\n',
         "[settings] unknown key 'epoch'"),
        ('command = "run"\n[settings]\nspace = "darts-cell"\ncontroller = "random"\nepochs = "5"\n',
         "[settings] key 'epochs' expects int, got '5'"),
        ('command = "run"\n[settings]\nspace = "darts-cell"\ncontroller = "random"\nlr = true\n',
         "[settings] key 'lr' expects float, got True"),
        ('command = "run"\n[settings]\nspace = "darts-cell"\ncontroller = "mdenas"\n[controller]\nalpa = 0.1\n',
         "[controller] unknown key 'alpa'"),
        ('command = "run"\n[settings]\nspace = "darts-cell"\ncontroller = "random"\n[space]\nlayers = 2.5\n',
         "[space] option 'layers' expects int"),
        ('command = "run"\n[setting]\nspace = "darts-cell"\n', "unknown key 'setting'"),
        ('command = "search"\n', "key 'command' must be one of run, train"),
        ('command = "run"\nsettings = 3\n', "key 'settings' must be a table"),
        ('command = "run"\n[settings\n', "not valid TOML"),
    ],
)
def test_a_bad_recipe_names_the_file_the_key_and_the_problem(tmp_path, body, message):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    result = CliRunner().invoke(main, ["run", "--recipe", str(path)])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert str(path) in result.output and message in result.output


def test_a_recipe_for_the_other_command_is_refused():
    result = CliRunner().invoke(main, ["train", "--recipe", "mdenas-cifar10"])
    assert result.exit_code == 1 and "recipe for `nasplug run`, not `nasplug train`" in result.output


def test_a_plugin_distribution_ships_recipes_through_an_entry_point(fake_dist):
    root = fake_dist("nasplug-mine", {"nasplug.recipes": {"mine": "mine_recipes"}}, {})
    (root / "mine_recipes").mkdir()
    (root / "mine_recipes" / "__init__.py").write_text("")
    (root / "mine_recipes" / "mine-digits.toml").write_text(
        'command = "run"\ndescription = "mine"\n[settings]\nspace = "darts-cell"\ncontroller = "random"\n')
    hooks = load_plugins()
    assert hooks.recipes()["mine-digits"].provider.distribution == "nasplug-mine"
    assert resolved_run("--recipe", "mine-digits").controller == "random"
    (root / "mine_recipes" / "mdenas-cifar10.toml").write_text('command = "run"\n')
    assert hooks.recipes()["mdenas-cifar10"].conflict is not None  # still listed, marked
    with pytest.raises(PluginError, match=r"recipe 'mdenas-cifar10' is claimed by several plugins: "
                                          r".*nasplug-mine.*uninstall all but one"):
        load_recipe("mdenas-cifar10", hooks)


@pytest.fixture(scope="module")
def cifar_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    write_cifar10(root, per_batch=40)  # 200 training images in the real pickle format, 40 test images
    return root


def test_mdenas_cifar10_resolves_to_the_papers_search(cifar_dir):
    config = resolved_run("--recipe", "mdenas-cifar10", "--data-dir", str(cifar_dir))
    assert (config.space, config.controller, config.dataset) == ("darts-cell", "mdenas", "cifar10")
    assert config.space_options == {"layers": 6, "reductions": "1,2", "channels": 16}
    assert (config.batch_size, config.epochs, config.search_images) == (512, 100, 5000)
    assert (config.lr, config.lr_min, config.normalisation) == (0.025, 0.0, "symmetric")
    hooks = load_plugins()
    space = hooks.build_space(config.space, hooks.dataset_shape("cifar10"), config.space_options)
    cells = [cell.cell_type for cell in space.build_supernet().cells]
    assert cells == ["normal", "reduce", "reduce", "normal", "normal", "normal"]  # 2nd and 3rd cells


@pytest.mark.slow
def test_mdenas_cifar10_runs_an_epoch_over_the_whole_training_split(cifar_dir, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, [
        "run", "--recipe", "mdenas-cifar10", "--data-dir", str(cifar_dir), "--search-split", "40",
        "--batch-size", "16", "--epochs", "2", "--channels", "4", "--device", "cpu", "--no-eval-derived",
        "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["search_images"] == 40 and config["space_options"]["reductions"] == "1,2"
    assert config["lr_min"] == 0.0 and config["normalisation"] == "symmetric"
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    # 160 weight-training images / 16 = 10 steps per epoch, while the 40 search images give 2 batches:
    # the search loader cycles instead of cutting the epoch to 2 steps
    assert [record["steps"] for record in history] == [10, 10]
    assert history[-1]["lr"] == pytest.approx(0.0)  # cosine to zero over the 2 epochs
