"""Bad inputs around specification files, priors, scenario files, profiles and fit()
arguments (issue 14): each is refused with the package's own error, in one line naming
the file, key or row, the value and what was expected; nothing saved is changed."""

from __future__ import annotations

import pytest

from bayesresp import PriorError
from bayesresp.model.priors import parse_prior


# -- 4. priors that are not finite or not positive ---------------------------------------
@pytest.mark.parametrize(
    "text, role, value",
    [
        ("normal(0, nan)", "b", "nan"),
        ("normal(0, inf)", "b", "inf"),
        ("normal(0, 1e400)", "b", "inf"),
        ("normal(nan, 1)", "b", "nan"),
        ("normal(-inf, 1)", "b", "-inf"),
        ("student_t(nan, 0, 1)", "b", "nan"),
        ("halfnormal(0)", "sd", "0"),
        ("halfnormal(-1)", "sd", "-1"),
        ("exponential(inf)", "sd", "inf"),
        ("dirichlet(0)", "simplex", "0"),
        ("lkj(nan)", "cor", "nan"),
        ("induced_dirichlet(-2)", "cutpoints", "-2"),
    ],
)
def test_priors_must_be_finite_with_positive_scales(text, role, value):
    with pytest.raises(PriorError) as info:
        parse_prior(text, role, "key")
    message = str(info.value)
    assert "prior for 'key'" in message and text in message and f"is {value};" in message


def test_a_misspelt_family_or_key_names_the_closest():
    with pytest.raises(PriorError, match="did you mean 'halfnormal'"):
        parse_prior("half_normal(1)", "sd", "sd")
