"""Docs that cannot drift: every hook and command documented, the tutorial's controller really runs."""

import inspect
import re
from pathlib import Path

import attrs
import pytest

from nasplug.data.bundle import DatasetOptions
from nasplug.plugin import hookspecs
from nasplug.cli import main
from nasplug.search import SearchConfig, run_search
from nasplug.plugin import load_plugins

DOCS = Path(__file__).resolve().parent.parent / "docs"


FIRSTRESULT = "Stops at first non-None result"


def hook_specs():
    return {name: obj for name, obj in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(obj, "nasplug_spec")}


def spec_contract(spec):
    """What a hook's documentation must state: its signature line, its parameters, firstresult or not."""
    signature = inspect.signature(spec)
    arguments = ", ".join(f"{name}: {p.annotation}" for name, p in signature.parameters.items())
    return {
        "signature": f"{spec.__name__}({arguments}) -> {signature.return_annotation}",
        "parameters": list(signature.parameters),
        "returns": True,
        "firstresult": spec.nasplug_spec["firstresult"],
    }


def documented_contract(section):
    """The same, read from a section of docs/hooks.md: its heading and its list of ``- `name`:`` lines."""
    heading, _, body = section.partition("\n")
    return {
        "signature": heading.strip().strip("`"),
        "parameters": re.findall(r"^- `(\w+)`: \S", body, re.M),
        "returns": re.search(r"^- returns: \S", body, re.M) is not None,
        "firstresult": FIRSTRESULT in body,
    }


def docstring_contract(spec):
    """The same, read from the spec's docstring (``:param x:`` lines, ``:return:``)."""
    doc = inspect.getdoc(spec)
    return {
        "signature": spec_contract(spec)["signature"],
        "parameters": re.findall(r"^:param (\w+): \S", doc, re.M),
        "returns": re.search(r"^:return: \S", doc, re.M) is not None,
        "firstresult": FIRSTRESULT in doc,
    }


def hook_sections():
    """docs/hooks.md's ``### `hook(...)` `` sections, by hook name."""
    text = (DOCS / "hooks.md").read_text()
    sections = re.split(r"^### ", text, flags=re.M)[1:]
    return {re.match(r"`(\w+)\(", section).group(1): section.split("\n## ")[0]
            for section in sections if section.startswith("`")}


def test_every_hook_is_documented_with_its_exact_contract():
    specs, sections = hook_specs(), hook_sections()
    assert specs and sorted(sections) == sorted(specs)
    for name, spec in specs.items():
        assert documented_contract(sections[name]) == spec_contract(spec), f"docs/hooks.md, {name}"


def test_every_hookspec_docstring_documents_its_parameters_and_return():
    for name, spec in hook_specs().items():
        assert docstring_contract(spec) == spec_contract(spec), f"hookspecs.{name}"


def test_the_contract_check_sees_each_kind_of_drift():
    spec = hook_specs()["build_dataset"]
    section = hook_sections()["build_dataset"]
    assert documented_contract(section) == spec_contract(spec)
    drifted = [
        section.replace("options: DatasetOptions)", "options: Mapping[str, Any])"),  # a changed annotation
        section.replace("- `data_dir`: ", "- data_dir: "),  # a parameter left undocumented
        section.replace("- `name`: ", "- `name`: ...\n- `extra`: "),  # an extra parameter
        section.replace("- returns: ", "- gives: "),  # no return
        section.replace(FIRSTRESULT, "First result wins"),  # firstresult not said
    ]
    for text in drifted:
        assert text != section and documented_contract(text) != spec_contract(spec)


def test_every_dataset_option_is_named_where_the_options_are_listed():
    fields = [field.name for field in attrs.fields(DatasetOptions)]
    section = hook_sections()["build_dataset"]
    listed = re.search(r"^- `options`: (.*?)^- ", section, re.M | re.S).group(1)
    param = re.search(r"^:param options: (.*?)^:", inspect.getdoc(hookspecs.build_dataset), re.M | re.S).group(1)
    for text in (listed, param):
        assert [name for name in fields if f"`{name}`" not in text] == []


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
    result = run_search(config, tmp_path / "run", hooks=load_plugins())
    assert len(result.genotype.normal) == 8


def python_blocks():
    for path in sorted([*DOCS.rglob("*.md"), DOCS.parent / "README.md"]):
        for number, block in enumerate(re.findall(r"```python\n(.*?)```", path.read_text(), re.S), start=1):
            yield pytest.param(block, id=f"{path.name}#{number}")


@pytest.mark.parametrize("block", list(python_blocks()))
def test_every_python_example_in_the_docs_compiles_and_imports_what_exists(block):
    """An example that names a moved or renamed function fails here, without running a search: each block
    must compile, and each of its imports from nasplug must resolve."""
    import ast

    tree = ast.parse(block)
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
               and (getattr(node, "module", None) or node.names[0].name).startswith("nasplug")
               and not (getattr(node, "module", None) or "").startswith("nasplug_")]
    exec(compile(ast.Module(body=imports, type_ignores=[]), "<docs>", "exec"), {})
