"""The hook specifications: nasplug's contract with plugins.

These docstrings are the reference documentation (``docs/hooks.md`` is checked
against them). A hook implementation may accept fewer arguments than its spec
names; hooks may gain arguments in later releases without breaking plugins.

Two kinds of plugin implement them:

* **plugin modules** from the entry-point group ``nasplug`` (and the built-in
  spaces and datasets): :func:`build_search_space`, :func:`list_search_spaces`,
  :func:`build_dataset`, :func:`list_datasets`, and observers such as
  :func:`epoch_finished`;
* **the controller** of a run, an instance of a class from the entry-point group
  ``nasplug.controllers``, registered for that run only: the per-step hooks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasplug.core.markers import hookspec

if TYPE_CHECKING:
    from nasplug.core.architecture import Architecture, Feedback, Step
    from nasplug.core.cost import CostModel
    from nasplug.data.bundle import DataBundle, DatasetInfo, DatasetOptions
    from nasplug.core.space import DataShape, Genotype, SearchSpace



# --------------------------------------------------------------------------- spaces


@hookspec
def list_search_spaces() -> Mapping[str, type[SearchSpace]]:
    """Name the search spaces this plugin provides.

    Called by ``nasplug plugins``, by error messages for unknown names and by
    :func:`build_search_space`'s default implementation.

    :return: a mapping from space name to its :class:`~nasplug.core.space.SearchSpace` class.
    """


@hookspec(firstresult=True)
def build_search_space(name: str, data: DataShape, options: Mapping[str, Any]) -> SearchSpace | None:
    """Build the search space called ``name``, or return None if this plugin does not know it.

    Called once per run, before the controller is created. Stops at first non-None result.

    :param name: the space name given on the command line (``--space``).
    :param data: classes, input channels and input size of the dataset.
    :param options: the space's options, already parsed against its declared ``options``.
    :return: the space, or None to leave ``name`` to another plugin (or to the listed class, built as
        ``cls(data, options)``).
    """


# --------------------------------------------------------------------------- datasets


@hookspec
def list_datasets() -> Mapping[str, DatasetInfo]:
    """Name the datasets this plugin provides.

    Called by ``nasplug plugins``, by error messages for unknown names and for
    a dataset's nominal shape (``nasplug info --dataset``).

    :return: a mapping from dataset name to a :class:`~nasplug.data.DatasetInfo`
        (a one-line description and the nominal shape, or None if only the files tell).
    """


@hookspec(firstresult=True)
def build_dataset(name: str, data_dir: Path | None, options: DatasetOptions) -> DataBundle | None:
    """Load the dataset called ``name``, or return None if this plugin does not know it.

    Called whenever a dataset is loaded: once per search or training run, before the
    search space is built for the bundle's shape. Stops at first non-None result.

    :param name: the dataset name given on the command line (``--dataset``).
    :param data_dir: the folder given with ``--data-dir`` (user-expanded), or None.
    :param options: augmentation, Cutout, download, input size and normalisation
        (:class:`~nasplug.data.DatasetOptions`: ``augment``, ``cutout``, ``download``, ``input_size``,
        ``normalisation``).
    :return: a :class:`~nasplug.data.DataBundle`, best with ``train_plain`` (the training images
        without augmentation, which a search evaluates its derived architecture on); problems raise
        :class:`~nasplug.data.DatasetError`. None leaves ``name`` to another plugin.
    """


# --------------------------------------------------------------------------- cost models


@hookspec
def list_cost_models() -> Mapping[str, type[CostModel]]:
    """Name the cost models this plugin provides (a device's latency table, an analytical count).

    Called when a search is given ``--cost-model`` and by ``nasplug plugins``. A third party adds a
    device by listing its own :class:`~nasplug.core.cost.CostModel` subclass here.

    :return: a mapping from cost-model name to its :class:`~nasplug.core.cost.CostModel` class.
    """


# --------------------------------------------------------------------------- controller


@hookspec(firstresult=True)
def sample_architecture(space: SearchSpace, step: Step) -> Sequence[Architecture] | None:
    """Return the architectures to train on this step (K ≥ 1).

    Called at the start of every step. Stops at first non-None result. Under
    distributed search the engine calls it until it holds at least one sample per
    rank (identically on every rank) and spreads the samples over the ranks.

    :param space: the run's search space (its ``decisions()`` are what to sample).
    :param step: epoch, step index, steps per epoch and total epochs.
    :return: a list of :class:`~nasplug.core.architecture.Architecture`, or None to leave the step to
        another plugin.
    """


@hookspec
def record_feedback(
    space: SearchSpace, samples: Sequence[Architecture], feedback: Sequence[Feedback], step: Step
) -> None:
    """Receive the validation feedback for every sample of this step.

    Called after each sample was evaluated on one search batch, before the
    weights are trained; broadcast to the controller and to observer plugins.
    ``feedback[k]`` belongs to ``samples[k]``; its values are 0-d tensors on the
    run's device (reading one on the host waits for the GPU: see
    :class:`~nasplug.core.architecture.Feedback`). Where a sample's gates require
    grad, ``feedback[k].loss_tensor`` carries the graph to them; backpropagate
    it here. Under distributed search every rank gets every sample's feedback,
    and ``loss_tensor`` is a first-order stand-in with the same value and the
    same gradient towards the gates (docs/distributed.md).

    :param space: the run's search space.
    :param samples: the K architectures :func:`sample_architecture` returned for this step.
    :param feedback: one :class:`~nasplug.core.architecture.Feedback` per sample, in the same order.
    :param step: the step the samples belong to.
    :return: None (broadcast: every implementation is called, results are ignored).
    """


@hookspec(firstresult=True)
def sample_weights(
    space: SearchSpace, samples: Sequence[Architecture], feedback: Sequence[Feedback], step: Step
) -> Sequence[float] | None:
    """Weight each sample's training loss in this step's weight update.

    Called after :func:`record_feedback`. Stops at first non-None result; with no
    implementation every sample weighs 1/K. PARSEC returns its normalised
    importance weights ω̃_k here.

    :param space: the run's search space.
    :param samples: this step's K samples.
    :param feedback: their feedback, as :func:`record_feedback` received it.
    :param step: the current step.
    :return: K non-negative floats, or None for the default.
    """


@hookspec
def update_distribution(space: SearchSpace, step: Step) -> None:
    """Update the controller's distribution after the step's weight update.

    Called after every step; ``step.epoch_end`` is True on the last step of an
    epoch, so a controller updates at its own cadence (MdeNAS per epoch, PARSEC
    and EoiNAS per step).

    :param space: the run's search space.
    :param step: the step just trained.
    :return: None (broadcast).
    """


@hookspec(firstresult=True)
def derive_genotype(space: SearchSpace) -> Genotype | None:
    """Derive the final discrete genotype from the current distribution.

    Called at every epoch end (for the history and the derived net's accuracy)
    and at the end of the search. Stops at first non-None result. Most
    controllers return ``space.genotype_from_scores(scores)``.

    :param space: the run's search space.
    :return: the space's :class:`~nasplug.core.space.Genotype`, or None to leave it to another plugin.
    """


@hookspec(firstresult=True)
def report_distribution(space: SearchSpace) -> Mapping[str, Sequence[float]] | None:
    """Return the current probability of every choice, per decision key.

    Called at epoch ends for the history (entropy, plots) and by progress
    output. Stops at first non-None result.

    :param space: the run's search space.
    :return: ``{decision key: [probability per choice]}``, or None to leave it to another plugin.
    """


# --------------------------------------------------------------------------- observers


@hookspec
def epoch_finished(record: Mapping[str, Any], run_dir: str) -> None:
    """Observe one epoch's history record (the line appended to ``history.jsonl``).

    Called on the main process after the epoch's checkpoint is written; for
    loggers and dashboards. Broadcast; an observer that raises is reported as a warning and the
    search goes on.

    :param record: the history line: epoch, losses and accuracies, lr, entropy, genotype, distribution.
    :param run_dir: the run directory.
    :return: None (broadcast).
    """


@hookspec
def train_epoch_finished(record: Mapping[str, Any], out_dir: str) -> None:
    """Observe one epoch of ``nasplug train`` (the line appended to ``metrics.jsonl``).

    Called after the epoch's checkpoint and metrics line are written; for
    loggers and dashboards. Broadcast.

    :param record: epoch, lr, drop_path, train loss/top-1, test loss/top-1/top-5, seconds.
    :param out_dir: the training directory.
    :return: None (broadcast).
    """
