"""Faulty plugins are named, never tracebacks, and never take the others down (issue 14, item 5)."""

from __future__ import annotations

import json

import pytest

from reliability import TINY, assert_one_line_error, cli

pytestmark = pytest.mark.slow

FAULTY = '''
    import nasplug
    from nasplug.controllers.random import RandomController


    class RaisesInSample(RandomController):
        @nasplug.hookimpl
        def sample_architecture(self):
            raise ValueError("no samples today")


    class RaisesInDerive(RandomController):
        @nasplug.hookimpl
        def derive_genotype(self, space):
            raise KeyError("normal")


    class RaisesInReport(RandomController):
        @nasplug.hookimpl
        def report_distribution(self):
            raise ZeroDivisionError("division by zero")


    class RaisesInInit(RandomController):
        def __init__(self, space, options, seed):
            raise RuntimeError("cannot start")


    class SamplesAString(RandomController):
        @nasplug.hookimpl
        def sample_architecture(self):
            return "normal"


    class SamplesInts(RandomController):
        @nasplug.hookimpl
        def sample_architecture(self):
            return [1, 2, 3]


    class SamplesADict(RandomController):
        @nasplug.hookimpl
        def sample_architecture(self):
            return {"a": 1}


    class DerivesAList(RandomController):
        @nasplug.hookimpl
        def derive_genotype(self):
            return [1, 2]


    class ReportsStrings(RandomController):
        @nasplug.hookimpl
        def report_distribution(self):
            return {"edge": ["high", "low"]}
'''

CASES = {
    "raises-in-sample": ("RaisesInSample", "failed in sample_architecture: ValueError: no samples today"),
    "raises-in-derive": ("RaisesInDerive", "failed in derive_genotype: KeyError: 'normal'"),
    "raises-in-report": ("RaisesInReport", "failed in report_distribution: ZeroDivisionError"),
    "raises-in-init": ("RaisesInInit", "failed in __init__: RuntimeError: cannot start"),
    "samples-a-string": ("SamplesAString", "sample_architecture returned a str ('normal')"),
    "samples-ints": ("SamplesInts", "sample_architecture returned a list ([1, 2, 3])"),
    "samples-a-dict": ("SamplesADict", "sample_architecture returned a dict"),
    "derives-a-list": ("DerivesAList", "derive_genotype returned a list"),
    "reports-strings": ("ReportsStrings", "report_distribution returned a dict"),
}


@pytest.fixture
def faulty(fake_dist):
    fake_dist("nasplug-faulty", {"nasplug.controllers": {name: f"faulty_controllers:{cls}"
                                                         for name, (cls, _) in CASES.items()}},
              {"faulty_controllers.py": FAULTY})


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_faulty_controller_is_named_with_its_distribution_and_hook(faulty, tmp_path, name):
    out = tmp_path / "run"
    assert_one_line_error(cli("run", *TINY, "--controller", name, "--epochs", "1", "--out", out),
                          f"controller {name!r} (nasplug-faulty 1.2.3)", CASES[name][1])
    assert not list(out.glob("checkpoints/*.pt"))


OBSERVER = '''
    import nasplug

    @nasplug.hookimpl
    def epoch_finished(record, run_dir):
        raise OSError("the logging server is down")
'''


def test_a_faulty_observer_is_reported_and_loses_no_epoch(fake_dist, tmp_path):
    fake_dist("nasplug-badlogger", {"nasplug": {"badlogger": "badlogger"}}, {"badlogger.py": OBSERVER})
    out = tmp_path / "run"
    result = cli("run", *TINY, "--controller", "random", "--epochs", "2", "--out", out)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2
    assert "plugin 'badlogger' (nasplug-badlogger 1.2.3) failed in epoch_finished: OSError" in warnings[0]
    assert "Traceback" not in result.output
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [record["epoch"] for record in history] == [1, 2] and (out / "genotype.json").is_file()


BROKEN_MODULES = {
    "fails_to_import.py": "raise ImportError('needs libfoo')\n",
    "unknown_hook.py": '''
        import nasplug

        @nasplug.hookimpl
        def sample_architectur(space):
            return []
    ''',
}


@pytest.fixture
def broken_modules(fake_dist):
    fake_dist("nasplug-broken", {"nasplug": {"importfails": "fails_to_import", "typo": "unknown_hook"}},
              BROKEN_MODULES)


def test_broken_plugin_modules_are_listed_and_the_rest_works(broken_modules):
    listing = cli("plugins")
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert any("importfails" in line and "BROKEN" in line and "needs libfoo" in line for line in lines)
    assert any("typo" in line and "BROKEN" in line and "sample_architectur" in line for line in lines)
    assert "darts-cell" in listing.output and "mdenas" in listing.output
    shown = cli("show", "DARTS_V2")
    assert shown.exit_code == 0 and "sep_conv_3x3" in shown.output


def test_an_unknown_space_mentions_the_broken_plugins(broken_modules):
    assert_one_line_error(cli("run", "--space", "nope", "--controller", "random"),
                          "unknown space 'nope'", "left out as broken", "needs libfoo")


def test_two_distributions_registering_one_controller_name_are_reported(fake_dist, tmp_path):
    for dist in ("nasplug-one", "nasplug-two"):
        module = dist.replace("-", "_")
        fake_dist(dist, {"nasplug.controllers": {"twin": f"{module}:Twin"}},
                  {f"{module}.py": "from nasplug.controllers.random import RandomController as Twin\n"})
    assert_one_line_error(cli("run", *TINY, "--controller", "twin", "--out", tmp_path / "run"),
                          "controller 'twin' is claimed by several plugins", "nasplug-one", "nasplug-two",
                          "uninstall all but one")
    listing = cli("plugins")
    assert listing.exit_code == 0
    assert any("twin" in line and "BROKEN" in line for line in listing.output.splitlines())
