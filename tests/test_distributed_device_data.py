"""Data on the device under two gloo ranks: the sampler's shards for training, one search batch for all."""

import json

import pytest
import torch
import torch.distributed as dist

from nasplug.plugin import load_plugins
from nasplug.runs.progress import Progress
from nasplug.search import SearchEngine
from test_distributed import EPOCHS, STEPS_PER_EPOCH, WORLD, assert_same, join_group, spawn, tiny_config

pytestmark = pytest.mark.slow


def worker(rank, port, root):
    """Per rank: epoch 0's training order, the first search batches, then a whole search's end state."""
    world = join_group(rank, port)
    try:
        config = tiny_config("random", data_on_device="on")
        run_dir = root / ("run" if rank == 0 else f"run-rank{rank}")
        engine = SearchEngine(config, run_dir, load_plugins(), Progress(False), world)
        assert engine.batches.device_train is not None
        epoch = engine.batches.train_epoch(0)
        search = engine.batches.search_steps(0)
        batches = {"order": epoch.order, "steps": len(epoch), "images": len(engine.batches.device_train),
                   "search": [next(search) for _ in range(3)]}
        torch.save(batches, root / f"batches.rank{rank}.pt")
        engine.start()
        result = engine.run()
        torch.save({"controller": engine.controller.state_dict(), "genotype": result.genotype.to_json()},
                   root / f"search.rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    root = tmp_path_factory.mktemp("two-ranks-device-data")
    spawn(worker, root)
    return root


def test_ranks_train_on_the_samplers_shards_and_search_on_one_batch(two_ranks):
    ranks = [torch.load(two_ranks / f"batches.rank{rank}.pt", weights_only=True) for rank in range(WORLD)]
    assert ranks[0]["steps"] == ranks[1]["steps"] == STEPS_PER_EPOCH  # as on the DataLoader path
    orders = [set(r["order"].tolist()) for r in ranks]
    assert len(orders[0] | orders[1]) == ranks[0]["images"]  # together the whole split ...
    assert len(orders[0] & orders[1]) <= 1  # ... each image once but the one wrapped around to pad it
    assert_same(ranks[0]["search"], ranks[1]["search"], "search batches")


def test_a_two_rank_search_with_data_on_device_ends_identical_on_both_ranks(two_ranks):
    ranks = [torch.load(two_ranks / f"search.rank{rank}.pt", weights_only=True) for rank in range(WORLD)]
    assert_same(ranks[0]["controller"], ranks[1]["controller"])
    assert ranks[0]["genotype"] == ranks[1]["genotype"]
    history = [json.loads(line) for line in (two_ranks / "run" / "history.jsonl").read_text().splitlines()]
    assert [r["steps"] for r in history] == [STEPS_PER_EPOCH] * EPOCHS
    assert not (two_ranks / "run-rank1").exists()
