"""A third-party controller is one class plus one entry-point line: build one, pip-install it, search with it."""

import importlib.util
import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

CONTROLLER = '''
    """Always picks the first choice: the smallest possible controller."""

    import nasplug
    from nasplug import Architecture, Controller, Option


    class FirstChoice(Controller):
        description = "always the first choice (test plugin)"
        options = {"offset": Option(int, 0, "index to pick")}

        @nasplug.hookimpl
        def sample_architecture(self, space):
            return [Architecture.single_path({d.key: self.config["offset"] for d in space.decisions()})]

        @nasplug.hookimpl
        def derive_genotype(self, space):
            return space.genotype_from_scores(
                {d.key: [1.0 if i == self.config["offset"] + 1 else 0.0 for i in range(len(d))]
                 for d in space.decisions()}
            )
'''

PYPROJECT = '''
    [build-system]
    requires = ["setuptools>=61"]
    build-backend = "setuptools.build_meta"

    [project]
    name = "nasplug-firstchoice"
    version = "0.0.1"
    dependencies = ["nasplug"]

    [project.entry-points."nasplug.controllers"]
    firstchoice = "nasplug_firstchoice:FirstChoice"
'''


def pip(*args):
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)


def nasplug(*args):
    return subprocess.run([sys.executable, "-m", "nasplug", *map(str, args)], capture_output=True, text=True)


def test_throwaway_controller_distribution(tmp_path):
    project = tmp_path / "nasplug-firstchoice"
    (project / "nasplug_firstchoice").mkdir(parents=True)
    (project / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (project / "nasplug_firstchoice" / "__init__.py").write_text(textwrap.dedent(CONTROLLER))
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    installed = pip("install", "--no-deps", *isolation, str(project))
    assert installed.returncode == 0, installed.stderr
    try:
        listing = nasplug("plugins")
        assert "firstchoice" in listing.stdout and "nasplug-firstchoice 0.0.1" in listing.stdout
        out = tmp_path / "run"
        result = nasplug("run", "--space", "darts-cell", "--controller", "firstchoice", "--dataset", "digits",
                         "--layers", "3", "--channels", "4", "--epochs", "1", "-o", "offset=1", "--out", out)
        assert result.returncode == 0, result.stderr
        genotype = json.loads((out / "genotype.json").read_text())
        # with offset=1 every decision scores index 2 highest: avg_pool_3x3 in DARTS order
        assert {op for op, _ in genotype["normal"]} == {"avg_pool_3x3"}
    finally:
        removed = pip("uninstall", "-y", "nasplug-firstchoice")
    assert removed.returncode == 0, removed.stderr
    assert "firstchoice" not in nasplug("plugins").stdout
