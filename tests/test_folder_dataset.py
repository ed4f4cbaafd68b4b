"""The folder dataset on PNGs written here, the dataset hook, and a dataset from a plugin distribution."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import nasplug
from nasplug.data import DatasetError, DatasetInfo, TensorImages
from nasplug.data.folder import SMALL_IMAGE_MAX, ImageFiles
from nasplug.plugin import PluginError, load_plugins
from nasplug.testing.cli import assert_one_line_error, run_cli, search_args

HOOKS = load_plugins()  # the built-in datasets, looked up as a run looks them up


def write_folder(root, per_class=(6, 2), size=(8, 8), mode="RGB", classes=("cat", "dog")):
    """root/train/<class>/*.png and root/val/<class>/*.png: class k is brightness 60 + 120k plus noise."""
    rng = np.random.default_rng(0)
    channels = 3 if mode == "RGB" else 1
    for split, count in zip(("train", "val"), per_class):
        for label, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(count):
                pixels = 60 + 120 * label + rng.integers(0, 40, (size[1], size[0], channels))
                pixels = pixels.astype(np.uint8)
                image = Image.fromarray(pixels.squeeze(-1) if mode == "L" else pixels, mode)
                image.save(folder / f"{index}.png")
    return root


def test_small_images_are_held_in_memory_normalised_by_their_own_statistics(tmp_path):
    root = write_folder(tmp_path / "pets")
    bundle = HOOKS.load_dataset("folder", root, augment=False)
    assert bundle.name == "folder" and (bundle.shape.num_classes, bundle.shape.in_channels,
                                        bundle.shape.input_size) == (2, 3, 8)
    assert isinstance(bundle.train, TensorImages) and bundle.train.classes == ("cat", "dog")
    assert len(bundle.train) == 12 and len(bundle.test) == 4
    assert [label for _, label in bundle.train] == [0] * 6 + [1] * 6
    # by hand: the val image is (pixel / 255 - mean) / std with the *training* images' channel statistics
    train = np.stack([np.asarray(Image.open(p)) for split in ("cat", "dog")
                      for p in sorted((root / "train" / split).glob("*.png"))]).astype(np.float64) / 255
    mean, std = train.mean((0, 1, 2)), train.std((0, 1, 2))
    val = np.asarray(Image.open(root / "val" / "dog" / "1.png")).astype(np.float64) / 255
    expected = torch.from_numpy(((val - mean) / std).transpose(2, 0, 1)).float()
    torch.testing.assert_close(bundle.test[3][0], expected, atol=1e-5, rtol=1e-5)
    # the statistics computed at load time are what an export records for its users
    prep = bundle.preprocessing
    assert (prep.channel_order, prep.pixel_scale, prep.input_size, prep.classes) == ("RGB", 255, 8, ("cat", "dog"))
    np.testing.assert_allclose(prep.mean, mean, rtol=1e-6)
    np.testing.assert_allclose(prep.std, std, rtol=1e-6)


def test_small_images_get_the_cifar_augmentation(tmp_path):
    bundle = HOOKS.load_dataset("folder", write_folder(tmp_path / "pets", size=(16, 16)), augment=True)
    names = [type(step).__name__ for step in bundle.train.transform.transforms]
    assert names == ["RandomCrop", "RandomHorizontalFlip", "ToDtype", "Normalize"]
    assert bundle.train.transform.transforms[0].padding == [2, 2, 2, 2]  # size // 8, 4 px at 32
    torch.manual_seed(0)
    draws = [bundle.train[0][0] for _ in range(8)]
    assert all(draw.shape == (3, 16, 16) for draw in draws)
    assert any(not torch.equal(draws[0], draw) for draw in draws[1:])  # random crop and flip at work


def test_mixed_sizes_are_fitted_to_the_first_images_short_side_and_grey_stays_one_channel(tmp_path):
    root = write_folder(tmp_path / "grey", mode="L", size=(12, 10))
    Image.fromarray(np.full((20, 30), 200, np.uint8), "L").save(root / "val" / "dog" / "wide.png")
    bundle = HOOKS.load_dataset("folder", root, augment=False)
    assert (bundle.shape.in_channels, bundle.shape.input_size) == (1, 10)
    assert bundle.test[len(bundle.test) - 1][0].shape == (1, 10, 10)


def test_large_images_are_read_per_item_with_the_imagenet_pipeline(tmp_path):
    side = SMALL_IMAGE_MAX + 8
    root = write_folder(tmp_path / "large", per_class=(2, 1), size=(side + 10, side), mode="L")
    bundle = HOOKS.load_dataset("folder", root, input_size=16)
    assert isinstance(bundle.train, ImageFiles)
    assert (bundle.shape.num_classes, bundle.shape.in_channels, bundle.shape.input_size) == (2, 3, 16)
    names = [type(step).__name__ for step in bundle.train.transform.transforms]
    assert names[:3] == ["RandomResizedCrop", "RandomHorizontalFlip", "ColorJitter"]
    image, label = bundle.train[3]
    assert image.shape == (3, 16, 16) and label == 1
    assert bundle.test[0][0].shape == (3, 16, 16)
    assert HOOKS.load_dataset("folder", root).shape.input_size == 224


@pytest.mark.parametrize(
    "damage, fragment",
    [
        (lambda root: None, "needs its folder: --data-dir ROOT"),
        (lambda root: (root / "train").rename(root / "training"), "train is missing"),
        (lambda root: (root / "train" / "cat").rename(root / "train" / "kitten"),
         "same class folders; only in train/: kitten; only in val/: cat"),
        (lambda root: [p.unlink() for p in (root / "val" / "cat").iterdir()], "val/cat holds no images"),
        (lambda root: (root / "train" / "dog" / "3.png").write_bytes(b"not a png"), "cannot read image"),
    ],
    ids=["no-data-dir", "no-train", "class-mismatch", "empty-class", "unreadable"],
)
def test_malformed_folders_give_one_line_errors_naming_the_path(tmp_path, damage, fragment):
    root = write_folder(tmp_path / "pets")
    damage(root)
    with pytest.raises(DatasetError, match=fragment) as error:
        HOOKS.load_dataset("folder", None if fragment.startswith("needs") else root)
    message = str(error.value)
    assert "\n" not in message
    if not fragment.startswith("needs"):
        assert str(root) in message


def test_no_class_folders_and_an_unreadable_large_image_name_the_path(tmp_path):
    (tmp_path / "empty" / "train").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"empty/train holds no class folders"):
        HOOKS.load_dataset("folder", tmp_path / "empty")
    root = write_folder(tmp_path / "large", per_class=(2, 1), size=(80, 80))
    (root / "train" / "dog" / "1.png").write_bytes(b"\x89PNG truncated")
    bundle = HOOKS.load_dataset("folder", root, input_size=16)
    with pytest.raises(DatasetError, match=r"cannot read image .*large/train/dog/1.png"):
        bundle.train[3]


def test_folder_shape_needs_the_files(tmp_path):
    assert HOOKS.dataset_shape("cifar10").input_size == 32  # nominal, no file read
    assert HOOKS.dataset_shape("folder", write_folder(tmp_path / "pets")).num_classes == 2


@pytest.mark.slow
def test_nasplug_run_searches_on_a_folder_of_pngs(tmp_path):
    root = write_folder(tmp_path / "pets", per_class=(16, 4))
    out = tmp_path / "run"
    run_cli("run", "--space", "darts-cell", "--controller", "random", "--dataset", "folder",
            "--data-dir", root, "--layers", "3", "--channels", "4", "--epochs", "2", "--batch-size", "4",
            "--quiet", "--out", out)
    assert json.loads((out / "config.json").read_text())["dataset"] == "folder"
    assert len(json.loads((out / "genotype.json").read_text())["normal"]) == 8
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert len(history) == 2 and 0 <= history[-1]["derived_accuracy"] <= 1


@pytest.mark.slow
def test_nasplug_run_on_a_missing_folder_is_one_line(tmp_path):
    result = run_cli(*search_args("random", tmp_path / "run"), "--dataset", "folder", "--data-dir",
                     tmp_path / "nowhere", exit_code=None)
    assert_one_line_error(result, str(tmp_path / "nowhere"))


STRIPES = '''
    """A dataset plugin: horizontal against vertical stripes, made in memory."""

    import torch

    import nasplug
    from nasplug.data import DataBundle, DatasetInfo, TensorImages
    from nasplug.core.space import DataShape

    SHAPE = DataShape(num_classes=2, in_channels=1, input_size=8)


    @nasplug.hookimpl
    def list_datasets():
        return {"stripes": DatasetInfo("stripes (test plugin)", SHAPE)}


    @nasplug.hookimpl
    def build_dataset(name, options):
        if name != "stripes":
            return None
        rows = (torch.arange(8) % 2).float().view(1, 8, 1).expand(1, 8, 8)
        images = torch.stack([rows, rows.transpose(1, 2)] * 32) + 0.1 * torch.randn(64, 1, 8, 8)
        labels = torch.tensor([0, 1] * 32)
        classes = ["horizontal", "vertical"]
        sets = TensorImages(images, labels, classes)
        return DataBundle("stripes", sets, sets, SHAPE)
'''


@pytest.mark.slow
def test_a_plugin_distribution_adds_a_dataset_by_name(fake_dist, tmp_path):
    fake_dist("nasplug-stripes", {"nasplug": {"stripes": "nasplug_stripes"}}, {"nasplug_stripes.py": STRIPES})
    listing = run_cli("plugins").output.splitlines()
    assert any(line.split()[:3] == ["stripes", "nasplug-stripes", "1.2.3"] for line in listing), listing
    assert any(line.split()[:2] == ["folder", "nasplug"] for line in listing)
    assert load_plugins().load_dataset("stripes").shape.input_size == 8
    out = tmp_path / "run"
    run_cli(*search_args("random", out, base=("--space", "darts-cell", "--layers", "3", "--channels", "4",
                                              "--epochs", "1", "--batch-size", "8", "--quiet")),
            "--dataset", "stripes")
    assert json.loads((out / "config.json").read_text())["dataset"] == "stripes"
    assert (out / "genotype.json").is_file()


class Ghost:
    """Lists datasets it cannot build properly."""

    @nasplug.hookimpl
    def list_datasets(self):
        return {"ghost": DatasetInfo("listed, never built"), "odd": DatasetInfo("builds the wrong thing")}

    @nasplug.hookimpl
    def build_dataset(self, name):
        return "not a bundle" if name == "odd" else None


def test_a_plugin_that_lists_but_does_not_build_a_dataset_is_named():
    hooks = load_plugins(load_entry_points=False)
    hooks.add_plugin(Ghost(), "ghost-plugin")
    with pytest.raises(PluginError, match="dataset 'ghost' .* is listed, but no plugin's build_dataset"):
        hooks.load_dataset("ghost")
    with pytest.raises(PluginError, match="dataset 'odd' .*: build_dataset returned a str, not a DataBundle"):
        hooks.load_dataset("odd")
    assert hooks.load_dataset("DIGITS", augment=False).name == "digits"  # names match any case


def test_training_recipe_of_a_folder_follows_its_image_size(tmp_path):
    from nasplug.train.config import DATASET_PROTOCOLS, protocol_for

    small = write_folder(tmp_path / "small")
    large = write_folder(tmp_path / "large", per_class=(1, 1), size=(SMALL_IMAGE_MAX + 16, SMALL_IMAGE_MAX + 1))
    assert protocol_for("darts-cell", "folder", small) == DATASET_PROTOCOLS["cifar10"]
    assert protocol_for("darts-cell", "folder", large) == DATASET_PROTOCOLS["imagenet"]
    with pytest.raises(DatasetError, match="--data-dir"):
        protocol_for("darts-cell", "folder", None)


@pytest.mark.slow
def test_nasplug_train_and_info_on_a_folder_of_pngs(tmp_path):
    root = write_folder(tmp_path / "pets", per_class=(16, 4))
    out = tmp_path / "train"
    run_cli("train", "--genotype", "DARTS_V2", "--dataset", "folder", "--data-dir", root, "--layers", "3",
            "--channels", "4", "--epochs", "1", "--batch-size", "8", "--quiet", "--out", out)
    config = json.loads((out / "config.json").read_text())
    assert (config["dataset"], config["cutout"]) == ("folder", 16)  # the CIFAR protocol for 8x8 images
    assert 0 <= json.loads((out / "results.json").read_text())["top1"] <= 1
    kept = json.loads((out / "preprocessing.json").read_text())
    assert kept["classes"] == ["cat", "dog"] and kept["mean"] == list(HOOKS.load_dataset(
        "folder", root, augment=False).preprocessing.mean)
    run_cli("export", out, "--format", "safetensors", "--out", tmp_path / "net.safetensors")  # reads --data-dir
    from safetensors import safe_open

    with safe_open(str(tmp_path / "net.safetensors"), framework="pt") as handle:
        assert json.loads(handle.metadata()["preprocessing"]) == kept
    info = run_cli("info", "--genotype", "DARTS_V2", "--dataset", "folder", "--data-dir", root)
    assert "folder 8x8, 2 classes" in info.output
    missing = run_cli("info", "--genotype", "DARTS_V2", "--dataset", "folder", exit_code=None)
    assert_one_line_error(missing, "--data-dir")
