import re

import pytest

from nasplug.core.controller import Controller
from nasplug.plugin import PluginError, load_plugins
from nasplug.core.space import DataShape
from nasplug.testing.cli import run_cli


def test_builtin_space_and_random_controller_are_found():
    hooks = load_plugins()
    assert "darts-cell" in hooks.spaces()
    assert hooks.space_entry("darts-cell").provider.distribution == "nasplug"
    random = hooks.controllers()["random"]
    assert random.provider.distribution == "nasplug"
    assert issubclass(random.load(), Controller)


def test_unknown_names_list_what_is_available():
    hooks = load_plugins()
    with pytest.raises(PluginError, match=r"unknown space 'dart'; available: .*darts-cell"):
        hooks.space_entry("dart")
    with pytest.raises(PluginError, match=r"unknown controller 'mdenass'; available: .*random"):
        hooks.controller_entry("mdenass")


def test_unknown_space_option_is_rejected_with_the_accepted_keys():
    hooks = load_plugins()
    with pytest.raises(Exception, match="unknown option depth for space 'darts-cell'; it accepts: .*layers"):
        hooks.build_space("darts-cell", DataShape(10, 1, 8), {"depth": "3"})


def test_plugin_module_that_fails_to_import_is_named_with_its_distribution(fake_dist):
    fake_dist("nasplug-broken", {"nasplug": {"broken": "broken_plugin"}}, {"broken_plugin.py": "import nope\n"})
    message = load_plugins().broken["broken"]  # left out; the other plugins still load
    assert message.startswith("plugin 'broken' (nasplug-broken 1.2.3) failed to import: ModuleNotFoundError")
    assert "\n" not in message


def test_bad_hook_signature_is_named(fake_dist):
    source = """
        from nasplug import hookimpl

        @hookimpl
        def build_search_space(name, data, options, colour):
            return None
    """
    fake_dist("nasplug-badsig", {"nasplug": {"badsig": "badsig_plugin"}}, {"badsig_plugin.py": source})
    assert re.match(r"plugin 'badsig' \(nasplug-badsig 1.2.3\) has a bad hook implementation",
                    load_plugins().broken["badsig"])


def test_misspelled_hook_is_caught(fake_dist):
    source = """
        from nasplug import hookimpl

        @hookimpl
        def sample_architectures(space, step):
            return None
    """
    fake_dist("nasplug-typo", {"nasplug": {"typo": "typo_plugin"}}, {"typo_plugin.py": source})
    hooks = load_plugins()
    assert re.search("implements an unknown hook.*sample_architectures", hooks.broken["typo"])
    assert "typo" not in hooks.providers


def test_third_party_space_plugin_module_is_listed_with_its_distribution(fake_dist):
    source = """
        from nasplug import hookimpl
        from nasplug.spaces.darts_cell import DartsCellSpace

        class Renamed(DartsCellSpace):
            name = "my-cells"

        @hookimpl
        def list_search_spaces():
            return {"my-cells": Renamed}
    """
    fake_dist("nasplug-myspace", {"nasplug": {"myspace": "myspace_plugin"}}, {"myspace_plugin.py": source})
    hooks = load_plugins()
    entry = hooks.space_entry("my-cells")
    assert (entry.provider.distribution, entry.provider.version) == ("nasplug-myspace", "1.2.3")
    space = hooks.build_space("my-cells", DataShape(10, 1, 8), {"layers": "3"})
    assert space.config["layers"] == 3


def test_a_space_or_dataset_name_listed_twice_is_refused_naming_both(fake_dist):
    source = """
        from nasplug import hookimpl
        from nasplug.data import builtin  # the module: a hook function imported by name would be registered
        from nasplug.spaces.darts_cell import DartsCellSpace

        @hookimpl
        def list_search_spaces():
            return {"darts-cell": DartsCellSpace}

        @hookimpl
        def list_datasets():
            return {"digits": builtin.list_datasets()["digits"]}
    """
    fake_dist("nasplug-copycat", {"nasplug": {"copycat": "copycat_plugin"}}, {"copycat_plugin.py": source})
    hooks = load_plugins()
    assert not hooks.broken
    assert "darts-cell" in hooks.spaces() and "proxyless-mbv2" in hooks.spaces()  # listing still works
    with pytest.raises(PluginError, match=r"space 'darts-cell' is claimed by several plugins: .*"
                                          r"uninstall all but one") as refused:
        hooks.space_entry("darts-cell")
    assert "plugin 'nasplug.spaces' (nasplug " in str(refused.value)
    assert "plugin 'copycat' (nasplug-copycat 1.2.3)" in str(refused.value)
    with pytest.raises(PluginError, match=r"dataset 'digits' is claimed by several plugins: .*nasplug-copycat"):
        hooks.dataset_entry("digits")
    assert hooks.space_entry("proxyless-mbv2").conflict is None
    listing = run_cli("plugins").output
    assert "darts-cell         BROKEN: space 'darts-cell' is claimed by several plugins" in listing
    assert "digits             BROKEN: dataset 'digits' is claimed by several plugins" in listing
    assert "proxyless-mbv2     nasplug " in listing


def test_controller_that_is_not_a_controller_class(fake_dist):
    fake_dist("nasplug-notctl", {"nasplug.controllers": {"notctl": "notctl_mod:Thing"}},
              {"notctl_mod.py": "class Thing:\n    pass\n"})
    with pytest.raises(PluginError, match=r"controller 'notctl' \(nasplug-notctl 1.2.3\): .* is not a nasplug.Controller"):
        load_plugins().controller_entry("notctl").load()
