import pytest

from nasplug.core.options import Option, OptionError, parse_assignments, resolve_options

DECLARED = {
    "alpha": Option(float, 0.01, "step size"),
    "samples": Option(int, 8, "K"),
    "prune": Option(bool, True, "prune ops"),
    "mode": Option(str, "mean", "aggregation", choices=("mean", "latest")),
}


def test_defaults_and_typed_overrides():
    values = resolve_options(DECLARED, {"alpha": "0.5", "samples": "16", "prune": "no", "mode": "latest"}, "x")
    assert values == {"alpha": 0.5, "samples": 16, "prune": False, "mode": "latest"}
    assert resolve_options(DECLARED, {}, "x") == {"alpha": 0.01, "samples": 8, "prune": True, "mode": "mean"}


def test_already_typed_values_pass_and_ints_widen_to_float():
    assert resolve_options(DECLARED, {"alpha": 1, "samples": 3}, "x")["alpha"] == 1.0


@pytest.mark.parametrize(
    "given, message",
    [
        ({"beta": "1"}, "unknown option beta for controller 'c'; it accepts: alpha, mode, prune, samples"),
        ({"samples": "many"}, "option 'samples' expects int, got 'many'"),
        ({"prune": "maybe"}, "option 'prune' expects true/false, got 'maybe'"),
        ({"mode": "median"}, "option 'mode' must be one of mean, latest, got 'median'"),
    ],
)
def test_bad_options_name_the_key(given, message):
    with pytest.raises(OptionError) as error:
        resolve_options(DECLARED, given, "controller 'c'")
    assert str(error.value) == message


def test_parse_assignments():
    assert parse_assignments(["a=1", " b = x=y "]) == {"a": "1", "b": "x=y"}
    with pytest.raises(OptionError, match="expected key=value, got 'oops'"):
        parse_assignments(["oops"])
