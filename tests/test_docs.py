"""Docs that cannot drift: every hook and command documented, the tutorial's controller really runs."""

import inspect
import re
from pathlib import Path

import pytest

from nasplug.plugin import hookspecs
from nasplug.cli import main
from nasplug.search.engine import SearchConfig, run_search

DOCS = Path(__file__).resolve().parent.parent / "docs"


def hook_names():
    return [name for name, obj in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(obj, "nasplug_spec")]


def test_every_hook_is_documented():
    text = (DOCS / "hooks.md").read_text()
    missing = [name for name in hook_names() if f"### `{name}(" not in text]
    assert hook_names() and not missing


def test_every_command_is_documented():
    text = (DOCS / "cli.md").read_text()
    missing = [name for name in main.commands if f"## `nasplug {name}`" not in text]
    assert not missing


@pytest.mark.slow
def test_tutorial_controller_runs(fake_dist, tmp_path):
    tutorial = (DOCS / "writing-a-controller.md").read_text()
    source = re.search(r"```python\n# nasplug_greedy/__init__.py\n(.*?)```", tutorial, re.S).group(1)
    entry = re.search(r'greedy = "(.*?)"', tutorial).group(1)
    fake_dist("nasplug-greedy", {"nasplug.controllers": {"greedy": entry}}, {"nasplug_greedy.py": source})
    config = SearchConfig(space="darts-cell", controller="greedy", epochs=1, space_options={"layers": "3", "channels": "4"},
                          controller_options={"floor": "0.1"})
    result = run_search(config, tmp_path / "run")
    assert len(result.genotype.normal) == 8
