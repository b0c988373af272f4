import pytest

from methods.reprpo.layers import parse_layers


def test_default_runs_from_30_percent_to_third_last():
    assert parse_layers("0.3:-3", 30) == list(range(9, 28))
    assert parse_layers("0.3:-3", 5) == [1, 2]


def test_indices_fractions_and_steps():
    assert parse_layers("3,5,-1", 10) == [3, 5, 9]
    assert parse_layers("0.5", 30) == [15]
    assert parse_layers("0:8:4", 10) == [0, 4, 8]
    assert parse_layers([1, -1], 4) == [1, 3]


@pytest.mark.parametrize("spec, match", [("12", "outside"), ("-3:1", "empty"), ("x", "cannot read"), ("1.5", "fraction")])
def test_bad_layers_are_clear_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_layers(spec, 5)
