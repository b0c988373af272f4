import pytest

from interp.data import Splits, split


def test_deterministic_disjoint_and_complete():
    items = [f"item{i}" for i in range(1000)]
    a = split(items, (0.8, 0.1, 0.1), seed=0)
    b = split(list(items), fractions=[0.8, 0.1, 0.1], seed=0)
    assert isinstance(a, Splits) and a == b
    assert (len(a.train), len(a.validation), len(a.test)) == (800, 100, 100)
    parts = [set(a.train), set(a.validation), set(a.test)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert parts[0] | parts[1] | parts[2] == set(items)
    assert a.train == sorted(a.train, key=items.index)  # original order kept inside a part
    c = split(items, seed=1)
    assert c.test != a.test and len(c.test) == 100
    assert a.train[:5] != items[:5]  # shuffled membership, not a prefix


def test_sizes_round_and_any_list():
    s = split(range(10662), (0.8, 0.1, 0.1), seed=0)
    assert (len(s.train), len(s.validation), len(s.test)) == (8530, 1066, 1066)
    s = split([3, 1, 2], (1.0, 0.0, 0.0))
    assert s == ([3, 1, 2], [], [])
    assert split([], seed=5) == ([], [], [])


def test_groups_stay_together():
    items = [(g, j) for g in range(50) for j in range(3)]
    s = split(items, (0.6, 0.2, 0.2), seed=2, group=lambda x: x[0])
    owner = {}
    for name, part in zip(s._fields, s):
        for g, _ in part:
            assert owner.setdefault(g, name) == name
    assert sum(map(len, s)) == 150 and all(len(p) % 3 == 0 for p in s)
    assert abs(len(s.train) - 90) <= 3 and len(s.validation) > 0 and len(s.test) > 0


@pytest.mark.parametrize("bad", [(0.8, 0.1), (0.5, 0.5, 0.5), (1.1, -0.1, 0.0), (float("nan"), 0.5, 0.5)])
def test_bad_fractions(bad):
    with pytest.raises(ValueError, match="fractions"):
        split(range(10), bad)
