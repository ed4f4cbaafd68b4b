"""The search step does not wait for the device more often than its algorithm needs (issue 16).

On a CPU no read of a tensor waits for anything, so the property is checked by counting:
:class:`nasplug.testing.syncs.HostSyncCounter` counts the host reads of values computed from the
supernet (what would live on the GPU), step by step, for every seed controller. Before the
engine kept its metrics on the device every step read each sample's loss and accuracy (four
reads a sample): these counts would rise.
"""

from __future__ import annotations

import io
import math

import pytest

from nasplug.search import step_totals
from nasplug.runs.divergence import DivergenceError
from nasplug.plugin import load_plugins
from nasplug.runs.progress import Progress
from nasplug.search import SearchConfig, SearchEngine
from nasplug.testing.syncs import HostSyncCounter

READS_PER_STEP = {"random": 0, "mdenas": 0, "parsec": 1, "eoinas": 0}
"""The algorithms' minimum: PARSEC needs its K log-likelihoods each step (ω̃ weights the weight step),
fetched in one transfer; the others use the feedback only at their epoch-end update or derivation."""
OPTIONS = {"random": {}, "mdenas": {}, "parsec": {"samples": 3}, "eoinas": {"warmup": 0}}


def engine_for(controller, run_dir, progress, **overrides):
    values = dict(space="darts-cell", controller=controller, dataset="digits", epochs=2, batch_size=64,
                  space_options={"layers": "3", "channels": "4"}, controller_options=OPTIONS[controller],
                  device="cpu", eval_derived=False)
    values.update(overrides)
    engine = SearchEngine(SearchConfig(**values), run_dir, load_plugins(), progress)
    engine.start()
    return engine


def count_reads(engine):
    """Run epoch 1 under a HostSyncCounter; the reads of each step and of the whole epoch."""
    per_step = []
    step = engine.step

    def counted(where, train, search):
        before = counter.count
        measured = step(where, train, search)
        per_step.append(counter.count - before)
        return measured

    engine.step = counted
    with HostSyncCounter([*engine.supernet.parameters(), *engine.supernet.buffers()]) as counter:
        engine._train_epoch(0)
    return per_step, counter


@pytest.mark.parametrize("live", [False, True], ids=["quiet", "live"])
@pytest.mark.parametrize("controller", sorted(READS_PER_STEP))
def test_steps_read_the_device_only_as_the_algorithm_needs(tmp_path, monkeypatch, controller, live):
    monkeypatch.setattr(step_totals, "REDUCE_SECONDS", math.inf)  # no cadence read: the step's own only
    progress = Progress(True, io.StringIO(), live=live)
    per_step, counter = count_reads(engine_for(controller, tmp_path, progress))
    expected = READS_PER_STEP[controller]
    assert len(per_step) > 3
    assert per_step[:-1] == [expected] * (len(per_step) - 1), counter.reads
    # The epoch's end: the controller's own fold (MdeNAS's update) and one read of the epoch's sums.
    assert per_step[-1] <= expected + 1
    assert counter.count <= sum(per_step) + 1, counter.reads


def test_the_live_line_reads_the_sums_once_per_reduction(tmp_path, monkeypatch):
    monkeypatch.setattr(step_totals, "REDUCE_SECONDS", 0.0)  # a reduction after every step
    stream = io.StringIO()
    per_step, counter = count_reads(engine_for("random", tmp_path, Progress(True, stream, live=True)))
    assert counter.count == sum(per_step) + len(per_step)  # one read of the sums per step, nothing else
    assert "loss" in stream.getvalue()


def test_a_non_finite_step_is_caught_at_the_next_reduction_naming_its_steps(tmp_path, monkeypatch):
    monkeypatch.setattr(step_totals, "REDUCE_SECONDS", math.inf)
    engine = engine_for("random", tmp_path, Progress(False), lr=1e6)
    with pytest.raises(DivergenceError, match=r"epoch 1, steps 1-\d+: \w+ is (nan|inf)"):
        engine._train_epoch(0)
