"""The command line as a new user meets it: real searches, and clear one-line errors on bad input."""

import json

import pytest
from click.testing import CliRunner

from nasplug.cli import main

pytestmark = pytest.mark.slow

TINY_DARTS = ["--space", "darts-cell", "--dataset", "digits", "--layers", "3", "--channels", "4"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result, fragment):
    assert result.exit_code != 0
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert lines and lines[-1].startswith("Error: "), result.output
    assert fragment in lines[-1], result.output
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    result = invoke("run", *TINY_DARTS, "--controller", "random", "--epochs", "2", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_run_writes_genotype_history_checkpoint(finished_run):
    genotype = json.loads((finished_run / "genotype.json").read_text())
    assert genotype["space"] == "darts-cell" and len(genotype["normal"]) == 8
    assert len((finished_run / "history.jsonl").read_text().splitlines()) == 2
    assert (finished_run / "checkpoints" / "epoch-0002.pt").is_file()


def test_existing_run_directory_is_never_overwritten(finished_run):
    before = (finished_run / "genotype.json").read_bytes()
    result = invoke("run", *TINY_DARTS, "--controller", "random", "--epochs", "1", "--out", finished_run)
    assert_one_line_error(result, "exists and is not empty")
    assert (finished_run / "genotype.json").read_bytes() == before


def test_show_and_info_on_the_run(finished_run):
    result = invoke("show", finished_run)
    assert result.exit_code == 0 and "node 2" in result.output
    info = invoke("info", "--genotype", finished_run / "genotype.json", "--dataset", "digits", "--layers", "3",
                  "--channels", "4")
    assert info.exit_code == 0 and "parameters" in info.output


def test_info_reproduces_published_darts_v2_counts():
    cifar = invoke("info", "--space", "darts-cell", "--genotype", "DARTS_V2", "--layers", "20", "--channels", "36")
    assert cifar.exit_code == 0, cifar.output
    params = float(cifar.output.split("parameters")[1].split("M")[0])
    assert params == pytest.approx(3.349342, rel=1e-3)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["run", "--space", "dart-cell", "--controller", "random"], "unknown space 'dart-cell'; available: darts-cell"),
        (["run", "--space", "darts-cell", "--controller", "rnd"], "unknown controller 'rnd'; available:"),
        (["run", *TINY_DARTS, "--controller", "random", "-o", "temperature=3"], "unknown option 'temperature'"),
        (["run", *TINY_DARTS, "--controller", "random", "-o", "derive=best"], "must be one of accuracy, random"),
        (["show", "NO_SUCH_NET"], "own notation nor a published genotype"),
        (["info", "--genotype", "DARTS_V2", "-o", "colour=red"], "unknown option colour"),
    ],
)
def test_bad_names_and_options(args, fragment):
    assert_one_line_error(invoke(*args), fragment)


def test_malformed_genotype_files_name_the_file(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"space": "darts-cell", "normal": [')
    assert_one_line_error(invoke("show", broken), f"{broken}: invalid JSON")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"space": "darts-cell", "normal": [["conv_9x9", 0]] * 8, "normal_concat": [2, 3, 4, 5],
                                 "reduce": [["skip_connect", 0]] * 8, "reduce_concat": [2, 3, 4, 5]}))
    assert_one_line_error(invoke("show", wrong), str(wrong))


def test_missing_cifar_offline_says_where_to_put_it(tmp_path):
    result = invoke("run", "--space", "darts-cell", "--controller", "random", "--dataset", "cifar10",
                    "--data-dir", tmp_path / "data", "--out", tmp_path / "run")
    assert_one_line_error(result, "cifar-10-batches-py")


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", *TINY_DARTS, "--controller", "random", "--epochs", "1", "--out", out).exit_code == 0
    checkpoint = out / "checkpoints" / "epoch-0001.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    history = (out / "history.jsonl").read_bytes()
    assert_one_line_error(invoke("run", "--resume", out), "not a readable nasplug checkpoint")
    assert (out / "history.jsonl").read_bytes() == history


def test_resume_refuses_new_configuration(finished_run):
    assert_one_line_error(invoke("run", "--resume", finished_run, "--epochs", "9"), "--resume takes the configuration")
