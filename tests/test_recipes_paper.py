"""Each built-in recipe holds its paper's values, and docs/recipes.md tables exactly the recipe files."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from nasplug.plugin import load_plugins
from nasplug.recipes import load_recipe

DOCS = Path(__file__).resolve().parent.parent / "docs" / "recipes.md"

# The papers' numbers, written out by hand from the sections docs/recipes.md cites (table.key: value).
PAPER = {
    "mdenas-cifar10": {  # MdeNAS
        "settings.space": "darts-cell",  # §3.1: the DARTS cell space, 8 ops
        "settings.controller": "mdenas", "settings.dataset": "cifar10",  # §4, §5.1.2
        "settings.search_images": 5000,  # §5.1.1: 5,000 held-out training images
        "settings.normalisation": "symmetric",  # §5.1.1: inputs in [-1, 1]
        "settings.epochs": 100, "settings.batch_size": 512, "settings.lr": 0.025,  # §5.1.2
        "settings.lr_min": 0.0, "settings.momentum": 0.9, "settings.weight_decay": 3e-4,  # §5.1.2
        "space.layers": 6, "space.reductions": "1,2", "space.channels": 16,  # §5.1.2
        "controller.alpha": 0.01,  # §5.1.2, Eq. 5
    },
    "mdenas-imagenet": {  # MdeNAS §5.4, with the search hyper-parameters of §5.1.2
        "settings.space": "proxyless-mbv2", "settings.controller": "mdenas", "settings.dataset": "imagenet",
        "settings.epochs": 100, "settings.batch_size": 512, "settings.lr": 0.025, "settings.lr_min": 0.0,
        "settings.momentum": 0.9, "settings.weight_decay": 3e-4,
        "settings.normalisation": "dataset",  # not stated for ImageNet (§5.1.1 is CIFAR-10's): our choice
        "space.skeleton": "proxyless_gpu", "space.kernels": "3,5,7", "space.expansions": "1,3,6",  # §5.4
        "space.allow_zero": False,  # §5.4: the zero and identity layers are abandoned
        "controller.alpha": 0.01,
    },
    "mdenas-imagenet-cpu": {  # MdeNAS §5.4, Table 3: the CPU skeleton, the search of §5.1.2
        "settings.space": "proxyless-mbv2", "settings.controller": "mdenas", "settings.dataset": "imagenet",
        "settings.epochs": 100, "settings.batch_size": 512, "settings.lr": 0.025, "settings.lr_min": 0.0,
        "settings.momentum": 0.9, "settings.weight_decay": 3e-4,
        "settings.normalisation": "dataset",  # not stated for ImageNet: our choice
        "space.skeleton": "proxyless_cpu",  # Table 3
        "space.kernels": "3,5,7", "space.expansions": "1,3,6", "space.allow_zero": False,  # §5.4
        "controller.alpha": 0.01,
    },
    "mdenas-cell-imagenet-eval": {  # MdeNAS §5.4, Table 2: the CIFAR-10 cell on ImageNet, mobile setting
        "settings.genotype": "MDENAS", "settings.dataset": "imagenet",  # Fig. 5 / §5.3, §5.4
        "settings.epochs": 120, "settings.batch_size": 1024, "settings.lr": 0.4,  # §5.1.2
        "settings.schedule": "cosine", "settings.lr_min": 0.0, "settings.weight_decay": 4e-5,  # §5.1.2
        "settings.momentum": 0.9,  # not stated: our choice
        "network.layers": 14,  # §5.4
        "network.channels": 48,  # ≤ 600 M multiply-adds (§5.4); the released network's C
        "network.stem": "imagenet", "network.reductions": "auto",  # the authors' released layout
    },
    "mdenas-cifar10-eval": {  # MdeNAS §5.1.2 (DARTS's protocol where it says no more)
        "settings.genotype": "MDENAS",  # Fig. 5, §5.3
        "settings.dataset": "cifar10", "settings.epochs": 600,
        "settings.batch_size": 96, "settings.lr": 0.025, "settings.lr_min": 0.0,
        "settings.weight_decay": 3e-4, "settings.cutout": 16,
        "settings.auxiliary_weight": 0.4,  # DARTS's protocol: MdeNAS names cutout and path dropout only
        "network.layers": 20, "network.channels": 36, "network.drop_path": 0.3,  # §5.1.2: path dropout 0.3
    },
    "mdenas-imagenet-eval": {  # MdeNAS §5.4 (the network), §5.1.2 (ImageNet training)
        "settings.space": "proxyless-mbv2", "settings.dataset": "imagenet",  # §5.4
        "settings.epochs": 120, "settings.batch_size": 1024, "settings.lr": 0.4,  # §5.1.2
        "settings.schedule": "cosine", "settings.lr_min": 0.0, "settings.weight_decay": 4e-5,  # §5.1.2
        "settings.momentum": 0.9,  # not stated: our choice (ProxylessNAS's)
    },
    "parsec-cifar10": {  # PARSEC §4.1
        "settings.space": "darts-cell", "settings.controller": "parsec", "settings.dataset": "cifar10",
        "settings.train_fraction": 0.5, "settings.epochs": 100,
        "controller.samples": 16, "controller.arch_lr": 0.02,  # §4.1
        "controller.arch_weight_decay": 1e-3,  # §4.1 "all other settings identical to DARTS"
    },
    "parsec-cifar10-finetune": {  # PARSEC §4.2
        "settings.space": "darts-cell", "settings.controller": "parsec", "settings.dataset": "cifar10",
        "settings.train_fraction": 0.5, "settings.epochs": 10, "settings.batch_size": 96,
        "settings.cutout": 16, "space.layers": 20, "space.channels": 36,
        "controller.samples": 16, "controller.arch_lr": 0.01,  # §4.1, §4.2
        "controller.arch_weight_decay": 1e-3,  # §4.1 → DARTS
    },
    "parsec-cifar10-eval": {  # PARSEC §4.1: DARTS's protocol
        "settings.dataset": "cifar10", "settings.epochs": 600, "settings.batch_size": 96, "settings.lr": 0.025,
        "settings.weight_decay": 3e-4, "settings.cutout": 16, "settings.auxiliary_weight": 0.4,
        "network.layers": 20, "network.channels": 36,
        "network.drop_path": 0.4,  # §4.1: drop-path probability 0.4
    },
    "eoinas-cifar10": {  # EoiNAS §4.2, Alg. 1, Eq. 5 and 7
        "settings.space": "darts-cell", "settings.controller": "eoinas", "settings.dataset": "cifar10",
        "settings.train_fraction": 0.5,  # §4.1: two equal halves
        "settings.epochs": 160, "settings.lr": 0.025, "settings.lr_min": 0.001,
        "settings.momentum": 0.9, "settings.weight_decay": 3e-4, "space.layers": 8, "space.channels": 16,
        "controller.warmup": 20, "controller.interval": 20, "controller.lambda": 0.5,
        "controller.tau_max": 5.0,  # Eq. 5, §3.1
        "controller.tau_min": 0.035,  # §3.1 "reduced to 0": 0 divides by zero; the authors' code's last T
        "controller.arch_lr": 3e-4, "controller.arch_weight_decay": 1e-3,
    },
    "eoinas-cifar10-eval": {  # EoiNAS §4.3
        "settings.genotype": "EOINAS", "settings.dataset": "cifar10", "settings.epochs": 600,
        "settings.batch_size": 128, "settings.lr": 0.025, "settings.weight_decay": 3e-4, "settings.cutout": 16,
        "settings.auxiliary_weight": 0.4, "network.layers": 20, "network.channels": 36,
        "network.drop_path": 0.3,
    },
    "nb201-cifar10-search": {  # NAS-Bench-201 §5, the authors' weight-sharing configuration
        "settings.space": "nas-bench-201", "settings.controller": "mdenas", "settings.dataset": "cifar10",
        "settings.train_fraction": 0.5, "settings.epochs": 100, "settings.batch_size": 64, "settings.lr": 0.025,
        "settings.lr_min": 0.001, "settings.momentum": 0.9, "settings.nesterov": True,
        "settings.weight_decay": 5e-4, "settings.grad_clip": 5.0, "space.cells": 5, "space.channels": 16,
    },
    "nb201-cifar10-train": {  # NAS-Bench-201 §2.3, the authors' 200-epoch configuration
        "settings.genotype": "NB201_OPTIMUM", "settings.dataset": "cifar10", "settings.epochs": 200,
        "settings.batch_size": 256, "settings.lr": 0.1, "settings.lr_min": 0.0, "settings.momentum": 0.9,
        "settings.nesterov": True, "settings.weight_decay": 5e-4, "settings.grad_clip": 0.0,
        "settings.cutout": 0, "settings.label_smoothing": 0.0, "settings.auxiliary_weight": 0.0,
        "network.cells": 5, "network.channels": 16,
    },
}


def recipe_values(name: str) -> dict[str, object]:
    recipe = load_recipe(name, load_plugins())
    values = {f"settings.{key}": value for key, value in recipe.settings.items()}
    for table, options in recipe.tables.items():
        values.update({f"{table}.{key}": value for key, value in options.items()})
    return values


def documented_values() -> dict[str, dict[str, object]]:
    """docs/recipes.md's tables: recipe → {table.key: the recipe column, parsed as TOML}."""
    tables: dict[str, dict[str, object]] = {}
    current = None
    for line in DOCS.read_text().splitlines():
        heading = re.fullmatch(r"### `([\w-]+)`", line)
        if heading:
            current = tables.setdefault(heading.group(1), {})
            continue
        row = re.fullmatch(r"\| `(\w+\.\w+)` \|.*?\| `([^`]*)` \|.*\|", line)
        if row and current is not None:
            current[row.group(1)] = tomllib.loads(f"v = {row.group(2)}")["v"]
    return tables


@pytest.mark.parametrize("name", sorted(PAPER))
def test_the_recipe_holds_the_papers_values(name):
    assert recipe_values(name) == PAPER[name]


@pytest.mark.parametrize("name", sorted(PAPER))
def test_the_docs_table_lists_every_value_of_the_recipe(name):
    assert documented_values()[name] == recipe_values(name)


def test_every_recipe_value_cites_a_section():
    for name in PAPER:
        for line in load_recipe(name, load_plugins()).text.splitlines():
            if re.match(r"\s*\w+ = ", line) and not line.startswith(("command", "description")):
                assert re.search(r"#.*(§|Alg\.|Eq\.|DARTS|our choice)", line), f"{name}: {line}"
