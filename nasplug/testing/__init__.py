"""What a plugin author needs to test a controller, as pytest ships pytester.

* :mod:`nasplug.testing.space`: :func:`tiny_space`, a space of a few decisions of any sizes whose
  supernet is a few Linear layers, :func:`all_architectures`, and :class:`TinySpacePlugin` to run it
  through the real engine;
* :mod:`nasplug.testing.feedback`: :func:`feedback` and :func:`feedback_favouring` made by hand,
  :func:`evaluate` measured on :func:`tiny_batch` as the engine measures it;
* :mod:`nasplug.testing.driver`: :func:`controller_hooks` and :func:`run_steps`, the real search
  engine over a controller for a few epochs, on feedback a test gives each sample;
* :mod:`nasplug.testing.cli`: :func:`run_cli`, :func:`assert_one_line_error` and :func:`search_args`
  for end-to-end runs of the command line;
* :mod:`nasplug.testing.cifar`: :func:`~nasplug.testing.cifar.write_cifar10` and ``write_cifar100``,
  the python-release pickle files with synthetic pixels (``python -m nasplug.testing.cifar ROOT``).
* :mod:`nasplug.testing.syncs`: :class:`~nasplug.testing.syncs.HostSyncCounter`, which counts the host
  reads of device values during a block (what would wait for a GPU), on any device;
* :mod:`nasplug.testing.planted`: the planted-optimum harness (:class:`PlantedProblem`, its space, data and
  :func:`recover_fraction`), a problem whose best architecture is known by construction
  (docs/planted-optimum.md).

docs/writing-a-controller.md shows a plugin's test written with them.
"""

from nasplug.testing.cli import TINY_SEARCH, assert_one_line_error, run_cli, search_args
from nasplug.testing.driver import controller_hooks, run_steps
from nasplug.testing.feedback import evaluate, feedback, feedback_favouring, tiny_batch
from nasplug.testing.space import (
    DEFAULT_DECISIONS,
    FEATURES,
    SMALL_DATA,
    TinyGenotype,
    TinySpace,
    TinySpacePlugin,
    all_architectures,
    tiny_space,
)
from nasplug.testing.syncs import HostSyncCounter

__all__ = [
    "DEFAULT_DECISIONS",
    "FEATURES",
    "HostSyncCounter",
    "SMALL_DATA",
    "TINY_SEARCH",
    "TinyGenotype",
    "TinySpace",
    "TinySpacePlugin",
    "all_architectures",
    "assert_one_line_error",
    "controller_hooks",
    "evaluate",
    "feedback",
    "feedback_favouring",
    "run_cli",
    "run_steps",
    "search_args",
    "tiny_batch",
    "tiny_space",
]
