"""An epoch is one pass over the weight-training split; the search split's batches cycle, resumably."""

import json
import shutil

import pytest
import torch

from nasplug.data import TensorImages
from nasplug.data.loaders import cycling_batches
from nasplug.search import SearchConfig, run_search
from nasplug.runs.checkpoint import checkpoint_paths, load_checkpoint
from nasplug.plugin import load_plugins


def test_cycling_batches_are_a_function_of_their_position():
    images = torch.arange(10, dtype=torch.float32).reshape(10, 1, 1, 1)
    data = TensorImages(images, torch.arange(10), [str(i) for i in range(10)])
    from_start = cycling_batches(data, 3, seed=5, start=0)
    first = [next(from_start)[1].tolist() for _ in range(8)]
    # 3 full batches per pass (the 10th image is left out of each pass), each pass shuffled anew
    assert all(len(batch) == 3 for batch in first)
    assert first[:3] != first[3:6]
    for start in (1, 3, 4, 7):
        later = cycling_batches(data, 3, seed=5, start=start)
        assert [next(later)[1].tolist() for _ in range(8 - start)] == first[start:]


@pytest.mark.slow
def test_an_epoch_covers_the_training_split_and_resumes_exactly(tmp_path):
    # digits: 1438 training images; 100 form the search split (1 batch of 64), 1338 train (20 batches)
    config = SearchConfig(space="darts-cell", controller="random", dataset="digits", epochs=2, batch_size=64,
                          search_images=100, space_options={"layers": "3", "channels": "4"},
                          keep_checkpoints=0, seed=3, eval_derived=False)
    full = tmp_path / "full"
    run_search(config, full, hooks=load_plugins())
    history = [json.loads(line) for line in (full / "history.jsonl").read_text().splitlines()]
    assert [record["steps"] for record in history] == [1338 // 64] * 2
    cut = tmp_path / "cut"
    shutil.copytree(full, cut)
    checkpoint_paths(cut)[1].unlink()
    run_search(config, cut, resume_from=checkpoint_paths(cut)[0], hooks=load_plugins())
    resumed = [json.loads(line) for line in (cut / "history.jsonl").read_text().splitlines()]
    for a, b in zip(history, resumed, strict=True):
        a.pop("seconds"), b.pop("seconds")
    assert resumed == history
    final = load_checkpoint(checkpoint_paths(full)[-1])["supernet"]
    again = load_checkpoint(checkpoint_paths(cut)[-1])["supernet"]
    assert all(torch.equal(final[name], again[name]) for name in final)
