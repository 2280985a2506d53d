"""Two-stage (Dorfman) pool size advice."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fangkong.analysis.pooling import advise_pool_size, pool_size_row


def test_issue_example() -> None:
    advice = advise_pool_size(0.01)
    assert advice.pool_size == 11
    assert round(advice.tests_per_person, 4) == 0.1956
    assert advice.efficiency == pytest.approx(1 / advice.tests_per_person)
    assert advice.false_negatives_per_1000 == 0.0 and advice.false_positives_per_1000 == 0.0
    assert advice.tests_per_pool == pytest.approx(11 * advice.tests_per_person)


def test_table_covers_every_size_and_advice_is_its_minimum() -> None:
    advice = advise_pool_size(0.03, sensitivity=0.95, specificity=0.99, max_size=30)
    assert [r.pool_size for r in advice.table] == list(range(1, 31))
    best = min(advice.table, key=lambda r: (r.tests_per_person, r.pool_size))
    assert advice.pool_size == best.pool_size == advice.unrestricted_pool_size
    assert advice.row(advice.pool_size).tests_per_person == advice.tests_per_person
    for r in advice.table:
        assert r.efficiency == pytest.approx(1 / r.tests_per_person)


def test_pool_of_one_is_a_single_test() -> None:
    r = pool_size_row(1, 0.2, 0.9, 0.95)
    assert r.tests_per_person == 1.0 and r.tests_per_pool == 1.0
    assert r.false_negatives_per_1000 == pytest.approx(1000 * 0.2 * 0.1)
    assert r.false_positives_per_1000 == pytest.approx(1000 * 0.8 * 0.05)


def test_formulas_with_imperfect_assays() -> None:
    p, se, sp, k = 0.02, 0.9, 0.98, 5
    q = 1 - p
    positive = se * (1 - q**k) + (1 - sp) * q**k
    r = pool_size_row(k, p, se, sp)
    assert r.pool_positive_probability == pytest.approx(positive)
    assert r.tests_per_person == pytest.approx(1 / k + positive)
    assert r.tests_per_pool == pytest.approx(1 + k * positive)
    assert r.false_negatives_per_1000 == pytest.approx(1000 * p * (1 - se**2))
    others = se * (1 - q ** (k - 1)) + (1 - sp) * q ** (k - 1)
    assert r.false_positives_per_1000 == pytest.approx(1000 * q * others * (1 - sp))


def test_formulas_agree_with_a_simulation() -> None:
    p, se, sp, k, pools = 0.05, 0.9, 0.95, 8, 200_000
    rng = np.random.default_rng(11)
    infected = rng.random((pools, k)) < p
    has_case = infected.any(axis=1)
    pool_pos = np.where(has_case, rng.random(pools) < se, rng.random(pools) < 1 - sp)
    indiv_pos = np.where(infected, rng.random((pools, k)) < se, rng.random((pools, k)) < 1 - sp)
    reported = pool_pos[:, None] & indiv_pos
    persons = pools * k
    r = pool_size_row(k, p, se, sp)
    assert (pools + k * pool_pos.sum()) / persons == pytest.approx(r.tests_per_person, rel=0.01)
    fn = (infected & ~reported).sum() / persons * 1000
    fp = (~infected & reported).sum() / persons * 1000
    assert fn == pytest.approx(r.false_negatives_per_1000, rel=0.05)
    assert fp == pytest.approx(r.false_positives_per_1000, rel=0.05)


@pytest.mark.parametrize("p", [0.31, 0.4, 0.5, 0.9])
def test_high_prevalence_advises_single_tests(p: float) -> None:
    advice = advise_pool_size(p)
    assert advice.pool_size == 1 and advice.tests_per_person == 1.0 and advice.efficiency == 1.0


def test_just_below_the_threshold_pools_of_three_pay() -> None:
    assert advise_pool_size(0.30).pool_size == 3


def test_ties_go_to_the_smaller_size() -> None:
    # at p = 1 − 3^(−1/3) a pool of 3 costs exactly one test per person, as single tests do
    p = 1 - 3 ** (-1 / 3)
    advice = advise_pool_size(p)
    assert advice.row(3).tests_per_person == pytest.approx(1.0, abs=1e-12)
    assert advice.pool_size == 1


def test_allowed_sizes_restrict_the_choice() -> None:
    advice = advise_pool_size(0.01, allowed=[20, 1, 5, 10, 10])
    assert advice.pool_size == 10 and advice.unrestricted_pool_size == 11
    assert advice.allowed == (1, 5, 10, 20)
    assert advice.tests_per_person == advice.row(10).tests_per_person
    worse = advise_pool_size(0.5, allowed=[5, 10])  # pooling does not pay, yet 1 is not allowed
    assert worse.unrestricted_pool_size == 1
    assert worse.pool_size == min((5, 10), key=lambda k: worse.row(k).tests_per_person)
    assert advise_pool_size(0.001, allowed=[1, 30]).pool_size == 30  # beyond max_size: added
    assert [r.pool_size for r in advise_pool_size(0.001, allowed=[30]).table][-2:] == [20, 30]


def test_imperfect_specificity_costs_more_tests() -> None:
    perfect = advise_pool_size(0.01)
    noisy = advise_pool_size(0.01, specificity=0.95)
    assert noisy.tests_per_person > perfect.tests_per_person
    assert noisy.pool_size <= perfect.pool_size


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"prevalence": 0.0}, "prevalence"),
        ({"prevalence": 1.0}, "prevalence"),
        ({"prevalence": -0.1}, "prevalence"),
        ({"prevalence": math.nan}, "prevalence"),
        ({"prevalence": "0.1"}, "prevalence"),
        ({"prevalence": True}, "prevalence"),
        ({"prevalence": 0.1, "sensitivity": 0.0}, "sensitivity"),
        ({"prevalence": 0.1, "sensitivity": 1.01}, "sensitivity"),
        ({"prevalence": 0.1, "specificity": -1}, "specificity"),
        ({"prevalence": 0.1, "specificity": math.nan}, "specificity"),
        ({"prevalence": 0.1, "max_size": 0}, "max_size"),
        ({"prevalence": 0.1, "max_size": 51}, "max_size"),
        ({"prevalence": 0.1, "max_size": 2.5}, "max_size"),
        ({"prevalence": 0.1, "allowed": []}, "allowed"),
        ({"prevalence": 0.1, "allowed": [0, 5]}, "allowed"),
        ({"prevalence": 0.1, "allowed": [51]}, "allowed"),
        ({"prevalence": 0.1, "allowed": "5"}, "allowed"),
    ],
)
def test_bad_input_names_the_parameter(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        advise_pool_size(**kwargs)  # type: ignore[arg-type]


def test_numpy_numbers_are_accepted() -> None:
    advice = advise_pool_size(np.float64(0.01), max_size=np.int64(20), allowed=np.array([5, 10]))  # type: ignore[arg-type]
    assert advice.pool_size == 10
