"""The dataset-dependent defaults of a search: one source for ``nasplug run`` and the Python API."""

from __future__ import annotations

DEFAULT_EPOCHS = 50
DEFAULT_BATCH_SIZE = 64
"""DARTS's search settings (50 epochs, batch 64), used wherever a dataset has no recipe below."""

# The offline quickstart must finish in minutes on 2 CPU cores: a smaller supernet and fewer epochs on
# digits (8x8 images, 1438 training images); elsewhere the DARTS search settings.
SEARCH_RECIPES: dict[str, dict[str, int]] = {
    "digits": {"epochs": 30, "batch_size": 32, "layers": 5, "channels": 8},
}


def search_recipe(dataset: str) -> dict[str, int]:
    """Epochs and batch size for a search on ``dataset``, and supernet ``layers``/``channels`` where set."""
    return {"epochs": DEFAULT_EPOCHS, "batch_size": DEFAULT_BATCH_SIZE, **SEARCH_RECIPES.get(dataset, {})}
