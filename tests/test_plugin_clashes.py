"""One clash rule for every entry-point group: a name several distributions claim is listed, marked,
and refused on use with a PluginError naming every claimant."""

import pytest

from nasplug.loggers import add_loggers, parse_logger_names
from nasplug.plugin import PluginError, load_plugins
from nasplug.recipes import load_recipe
from nasplug.testing.cli import run_cli

SPACE_MODULE = """
    from nasplug import hookimpl
    from nasplug.spaces.darts_cell import DartsCellSpace

    class Renamed(DartsCellSpace):
        name = "{space}"

    @hookimpl
    def list_search_spaces():
        return {{"{space}": Renamed}}
"""

LOGGER_MODULE = """
    class Mine:
        pass
"""


def claimants_of(message, *distributions):
    assert "is claimed by several plugins" in message and message.endswith("uninstall all but one")
    assert "\n" not in message
    for distribution in distributions:
        assert f"({distribution} " in message, (distribution, message)


def test_a_plugin_module_name_two_distributions_claim_is_left_out_naming_both(fake_dist):
    fake_dist("nasplug-one", {"nasplug": {"cells": "one_cells"}}, {"one_cells.py": SPACE_MODULE.format(space="one")})
    fake_dist("nasplug-two", {"nasplug": {"cells": "two_cells"}}, {"two_cells.py": SPACE_MODULE.format(space="two")})
    hooks = load_plugins()
    claimants_of(hooks.broken["cells"], "nasplug-one", "nasplug-two")
    assert hooks.broken["cells"].startswith("plugin module 'cells' is claimed")
    assert not {"one", "two"} & set(hooks.spaces())  # neither module is registered
    with pytest.raises(PluginError, match="left out as broken: plugin module 'cells' is claimed"):
        hooks.space_entry("one")
    assert "cells              BROKEN: plugin module 'cells' is claimed" in run_cli("plugins").output


def test_a_controller_name_a_distribution_shares_with_nasplug_is_listed_and_refused(fake_dist):
    fake_dist("nasplug-rival", {"nasplug.controllers": {"random": "rival_ctl:Rival"}},
              {"rival_ctl.py": "from nasplug.controllers.random import RandomController as Rival\n"})
    hooks = load_plugins()
    assert hooks.controllers()["random"].conflict is not None  # still listed
    with pytest.raises(PluginError) as refused:
        hooks.controller_entry("random")
    claimants_of(str(refused.value), "nasplug", "nasplug-rival")
    with pytest.raises(PluginError, match="controller 'random' is claimed by several plugins"):
        hooks.controllers()["random"].load()
    assert hooks.controller_entry("mdenas").conflict is None
    listing = run_cli("plugins").output
    assert "BROKEN: controller 'random' is claimed by several plugins" in listing


def test_a_recipe_name_two_distributions_ship_is_listed_and_refused(fake_dist):
    root = fake_dist("nasplug-mine", {"nasplug.recipes": {"mine": "clashing_recipes"}}, {})
    (root / "clashing_recipes").mkdir()
    (root / "clashing_recipes" / "__init__.py").write_text("")
    (root / "clashing_recipes" / "mdenas-cifar10.toml").write_text('command = "run"\n')
    hooks = load_plugins()
    recipes = hooks.recipes()
    assert recipes["mdenas-cifar10"].conflict is not None and recipes["parsec-cifar10"].conflict is None
    with pytest.raises(PluginError) as refused:
        load_recipe("mdenas-cifar10", hooks)
    claimants_of(str(refused.value), "nasplug", "nasplug-mine")
    assert str(refused.value).startswith("recipe 'mdenas-cifar10' is claimed")
    assert load_recipe("parsec-cifar10", hooks).command == "run"


def test_a_logger_name_a_distribution_shares_with_a_built_in_is_listed_and_refused(fake_dist):
    fake_dist("nasplug-mylog", {"nasplug.loggers": {"csv": "clashlog:Mine"}}, {"clashlog.py": LOGGER_MODULE})
    hooks = load_plugins()
    assert parse_logger_names("csv,tensorboard", hooks) == ["csv", "tensorboard"]  # listed, known
    assert hooks.loggers()["csv"].conflict is not None
    with pytest.raises(PluginError) as refused:
        add_loggers(hooks, ["csv"])
    claimants_of(str(refused.value), "nasplug", "nasplug-mylog")
    assert not [name for name in hooks.pm.list_name_plugin() if name[0].startswith("logger:")]


def test_one_distribution_listed_twice_on_the_path_is_no_clash(fake_dist, monkeypatch):
    root = fake_dist("nasplug-mylog", {"nasplug.loggers": {"mine": "clashlog:Mine"}}, {"clashlog.py": LOGGER_MODULE})
    monkeypatch.syspath_prepend(str(root))  # the same distribution, found twice
    hooks = load_plugins()
    assert hooks.loggers()["mine"].conflict is None
    add_loggers(hooks, ["mine"])
    assert hooks.pm.get_plugin("logger:mine") is not None


def test_a_recipe_package_that_fails_to_import_is_listed_as_broken_and_hides_no_other_recipe(fake_dist):
    from click.testing import CliRunner

    from nasplug.cli import main

    fake_dist("nasplug-gone", {"nasplug.recipes": {"gone": "no_such_recipe_package"}}, {})
    recipes = load_plugins().recipes()
    assert "no_such_recipe_package" in recipes["gone"].conflict
    assert recipes["mdenas-cifar10"].conflict is None
    listed = CliRunner().invoke(main, ["recipes"])
    assert listed.exit_code == 0, listed.output
    assert "gone" in listed.output and "BROKEN" in listed.output and "mdenas-cifar10" in listed.output


def test_without_entry_points_only_the_builtin_controllers_recipes_and_loggers_are_listed(fake_dist):
    fake_dist("nasplug-extra", {"nasplug.controllers": {"extra": "extra_controller:Extra"},
                                "nasplug.loggers": {"extra": "extra_logger:Extra"}}, {})
    builtins = load_plugins(load_entry_points=False)
    assert set(builtins.controllers()) == {"random"}
    assert set(builtins.loggers()) == {"csv", "tensorboard"}
    assert {entry.provider.distribution for entry in builtins.recipes().values()} == {"nasplug"}
    assert {"extra", "mdenas"} <= set(load_plugins().controllers())
