"""The dataset-dependent defaults of a search: one source for ``nasplug run`` and the Python API."""

from __future__ import annotations

from nasplug.runs.settings import field_default
from nasplug.search.config import SearchConfig

DEFAULT_EPOCHS: int = field_default(SearchConfig, "epochs")
DEFAULT_BATCH_SIZE: int = field_default(SearchConfig, "batch_size")
"""DARTS's search settings (SearchConfig's defaults), used wherever a dataset has no defaults below."""

# The offline quickstart must finish in minutes on 2 CPU cores and its supernet must learn in that time:
# on digits (8x8 images, 898 weight-training images) a shallow, wide supernet. At 8 channels a single-path
# supernet whose edges alternate between independently initialised convolutions stays near chance for
# hundreds of steps; at 32 channels and 3 cells it reaches about 0.9 sampled-path accuracy in 60 epochs
# (docs/supernet-training.md). Elsewhere the DARTS search settings.
DATASET_DEFAULTS: dict[str, dict[str, int]] = {
    "digits": {"epochs": 60, "batch_size": 32, "layers": 3, "channels": 32},
}


def search_defaults(dataset: str) -> dict[str, int]:
    """Epochs and batch size for a search on ``dataset``, and supernet ``layers``/``channels`` where set."""
    return {"epochs": DEFAULT_EPOCHS, "batch_size": DEFAULT_BATCH_SIZE, **DATASET_DEFAULTS.get(dataset, {})}
