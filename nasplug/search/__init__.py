"""Search: learn a distribution over a space's architectures and derive a genotype.

``config`` (SearchConfig, the run's ``config.json``), ``run`` (run_search: lock, folder, start or
resume), ``engine`` (the epochs, history, checkpoints), ``step`` (the hooks' order within a step),
``batches`` (the two splits), ``evaluation`` (the derived architecture's accuracy),
``controller_choice`` (the run's controller by name, class or instance), ``defaults`` (the
dataset-dependent defaults), ``distributed`` (torchrun) and ``step_totals`` (device-side sums).
"""

from nasplug.search.config import RunError, SearchConfig, read_config
from nasplug.search.engine import SearchEngine, SearchResult, latest_checkpoint
from nasplug.search.evaluation import evaluation_batch_size
from nasplug.search.run import resume_target, run_search

__all__ = [
    "RunError",
    "SearchConfig",
    "SearchEngine",
    "SearchResult",
    "evaluation_batch_size",
    "latest_checkpoint",
    "read_config",
    "resume_target",
    "run_search",
]
