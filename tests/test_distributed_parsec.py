"""Under torchrun every sample of a step is scored on one search batch: PARSEC's ω̃ is that of one process."""

import copy

import pytest
import torch
import torch.distributed as dist
from torch.nn import functional as F

from nasplug.core.architecture import Step
from nasplug.search.distributed import check_identical
from nasplug.plugin import load_plugins
from nasplug.runs.progress import Progress
from nasplug.search import SearchEngine
from test_distributed import WORLD, installed, join_group, spawn, tiny_config


def parsec_step_worker(rank, port, root):
    world = join_group(rank, port)
    try:
        config = tiny_config("parsec", controller_options={"samples": "4"})
        engine = SearchEngine(config, root / "run", load_plugins(), Progress(False), world)
        engine.start()
        # The engine's search batch of a step is the same on every rank (this fails if ranks draw shards).
        search = next(engine.batches.search_steps(5))
        check_identical(world, {"the search batch": search[0], "its labels": search[1]})
        train = next(iter(engine.batches.train_epoch(0)))
        recorded = {}
        sample_weights = engine.hooks.sample_weights

        def recording(space, samples, feedback, step):
            recorded["samples"], recorded["weights"] = samples, sample_weights(space, samples, feedback, step)
            return recorded["weights"]

        engine.hooks.sample_weights = recording
        before = copy.deepcopy(engine.supernet.state_dict())
        engine.step(Step(0, 0, 1, 1), engine.precision.batch(train), engine.precision.batch(search))
        # One process scoring the step's samples on that batch, with the weights before the step
        reference = engine.space.build_supernet()
        reference.load_state_dict(before)
        x, y = search
        with torch.no_grad():
            log_likelihoods = torch.tensor(
                [-F.cross_entropy(reference(x, sample), y).item() * len(y) for sample in recorded["samples"]],
                dtype=torch.float64)
        expected = torch.softmax(log_likelihoods, dim=0)
        torch.testing.assert_close(torch.tensor(recorded["weights"], dtype=torch.float64), expected,
                                   rtol=1e-5, atol=1e-9)
        assert len(recorded["weights"]) == 4
        (root / f"parsec.rank{rank}.passed").touch()
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
@pytest.mark.skipif(not installed("parsec"), reason="nasplug-parsec is not installed")
def test_a_two_process_parsec_step_weighs_its_samples_as_one_process(tmp_path):
    spawn(parsec_step_worker, tmp_path)
    assert all((tmp_path / f"parsec.rank{rank}.passed").is_file() for rank in range(WORLD))
