"""Shared test helpers: fake installed distributions and tiny search configurations."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


def write_dist_info(root: Path, name: str, entry_points: dict[str, dict[str, str]], modules: dict[str, str]) -> Path:
    """Lay out an installed distribution (a .dist-info folder plus modules) under ``root``.

    Putting ``root`` on sys.path makes importlib.metadata discover it exactly as it
    discovers a pip-installed distribution.
    """
    info = root / f"{name.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2.3\n")
    lines = []
    for group, entries in entry_points.items():
        lines.append(f"[{group}]")
        lines.extend(f"{key} = {value}" for key, value in entries.items())
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for filename, source in modules.items():
        (root / filename).write_text(textwrap.dedent(source))
    return root


@pytest.fixture
def fake_dist(tmp_path, monkeypatch):
    """Install (on sys.path, for this test only) a fake distribution: fake_dist(name, entry_points, modules)."""

    def make(name: str, entry_points: dict[str, dict[str, str]], modules: dict[str, str]) -> Path:
        root = write_dist_info(tmp_path / name, name, entry_points, modules)
        monkeypatch.syspath_prepend(str(root))
        return root

    return make



def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` need a GPU: skipped where torch sees none."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (benchmarks/gpu_check.sh runs these on a GPU)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def finished_search(tmp_path_factory) -> Path:
    """One tiny finished search (reliability.SEARCH2), shared by a test module."""
    from reliability import SEARCH2, cli

    out = tmp_path_factory.mktemp("search") / "run"
    result = cli(*SEARCH2, "--out", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def finished_training(tmp_path_factory) -> Path:
    """One tiny finished training (reliability.TRAIN2), shared by a test module."""
    from reliability import TRAIN2, cli

    out = tmp_path_factory.mktemp("train") / "train"
    result = cli(*TRAIN2, "--out", out)
    assert result.exit_code == 0, result.output
    return out
