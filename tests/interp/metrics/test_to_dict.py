"""`to_dict` is the project's one name for "this record as JSON-able settings or numbers" (issue 17); the earlier
`as_dict` of the public records still answers for one release, with a DeprecationWarning naming the new one."""
import pytest
import torch

from interp.metrics.win_rate import win_rate_from_outcomes


def test_as_dict_is_a_deprecated_alias_of_to_dict():
    from methods.re_control.config import REControlConfig

    w = win_rate_from_outcomes(torch.tensor([1.0, 0.5, 0.0]), n_boot=50)
    for record, name in ((w, "WinRate"), (REControlConfig(), "REControlConfig")):
        with pytest.warns(DeprecationWarning, match=rf"{name}\.as_dict\(\) is now {name}\.to_dict\(\)"):
            assert record.as_dict() == record.to_dict()
