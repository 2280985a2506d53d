"""Pool size advice for two-stage (Dorfman) pooled testing (混采检测).

Two-stage pooling: swabs of k persons go into one tube; if the pool tests positive, every
member is retested individually. With prevalence p, assay sensitivity Se and specificity Sp
(the same at both stages, errors independent between stages, no dilution effect: a pool with
at least one infected member tests positive with probability Se), for a pool of k ≥ 2:

    P(pool positive)      π(k) = Se · (1 − (1−p)^k) + (1 − Sp) · (1−p)^k
    tests per pool        E(k) = 1 + k · π(k)
    tests per person      E(k)/k = 1/k + π(k)
    false negatives       FN(k) = p · (1 − Se²)            per person: an infected person is
                                                           found only if both stages detect
    false positives       FP(k) = (1−p) · π₋(k) · (1 − Sp)  per person, with
                          π₋(k) = Se · (1 − (1−p)^(k−1)) + (1 − Sp) · (1−p)^(k−1),
                          the probability that the pool of an uninfected person tests
                          positive (the other k−1 members decide whether it holds a case);
                          the person is then reported positive if the individual test
                          (the individual stage) is a false positive.

A "pool" of one is a single test: exactly 1 test per person, FN(1) = p · (1 − Se),
FP(1) = (1 − p) · (1 − Sp). The advised size minimises tests per person (ties → the smaller
size); when no pool beats single tests it is 1 — with perfect assays that is for
p ≥ 1 − 3^(−1/3) ≈ 0.3066, where pools of 3 stop paying.
Efficiency is 1 / tests per person: persons screened per test, relative to single tests.

Example (the issue's check): p = 0.01, Se = Sp = 1 → k = 11, 0.1956 tests per person.

Reference: R. Dorfman, "The Detection of Defective Members of Large Populations",
Annals of Mathematical Statistics 14(4):436–440, 1943.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

MAX_POOL_SIZE = 50
DEFAULT_MAX_SIZE = 20
_TIE = 1e-12  # relative tolerance under which two sizes cost the same (→ the smaller wins)


@dataclass(frozen=True)
class PoolSizeRow:
    """The expected figures for one pool size."""

    pool_size: int
    tests_per_person: float
    tests_per_pool: float
    pool_positive_probability: float
    false_negatives_per_1000: float
    false_positives_per_1000: float
    efficiency: float  # 1 / tests_per_person


@dataclass(frozen=True)
class PoolAdvice:
    """The advised pool size with its figures, and the table of every size considered."""

    prevalence: float
    sensitivity: float
    specificity: float
    pool_size: int
    tests_per_person: float
    tests_per_pool: float
    pool_positive_probability: float
    false_negatives_per_1000: float
    false_positives_per_1000: float
    efficiency: float
    unrestricted_pool_size: int  # the best size in the table, whatever `allowed` says
    allowed: tuple[int, ...] | None
    table: tuple[PoolSizeRow, ...]

    def row(self, pool_size: int) -> PoolSizeRow:
        for r in self.table:
            if r.pool_size == pool_size:
                return r
        raise KeyError(pool_size)


def pool_size_row(k: int, p: float, se: float = 1.0, sp: float = 1.0) -> PoolSizeRow:
    """Expected figures of two-stage pooling with pools of `k` (formulas in the module docstring)."""
    k = _check_size("k", k)
    p, se, sp = _check_inputs(p, se, sp)
    q = 1.0 - p
    if k == 1:
        per_person, per_pool, positive = 1.0, 1.0, p * se + q * (1.0 - sp)
        fn, fp = p * (1.0 - se), q * (1.0 - sp)
    else:
        qk = q**k
        positive = se * (1.0 - qk) + (1.0 - sp) * qk
        per_person = 1.0 / k + positive
        per_pool = 1.0 + k * positive
        q_others = q ** (k - 1)
        positive_if_negative = se * (1.0 - q_others) + (1.0 - sp) * q_others
        fn = p * (1.0 - se * se)
        fp = q * positive_if_negative * (1.0 - sp)
    return PoolSizeRow(
        pool_size=k,
        tests_per_person=per_person,
        tests_per_pool=per_pool,
        pool_positive_probability=positive,
        false_negatives_per_1000=1000.0 * fn,
        false_positives_per_1000=1000.0 * fp,
        efficiency=1.0 / per_person,
    )


def advise_pool_size(
    prevalence: float,
    *,
    sensitivity: float = 1.0,
    specificity: float = 1.0,
    max_size: int = DEFAULT_MAX_SIZE,
    allowed: Iterable[int] | None = None,
) -> PoolAdvice:
    """The pool size that minimises expected tests per person.

    The table holds every size 1..`max_size` (plus any size in `allowed` above it). If
    `allowed` is given (for instance a policy profile's `allowed_sizes`, `[1, 5, 10, 20]`),
    the advice is the best of those sizes only; `unrestricted_pool_size` still names the
    best size of the whole table. Raises ValueError naming the bad parameter.
    """
    p, se, sp = _check_inputs(prevalence, sensitivity, specificity)
    max_size = _check_size("max_size", max_size)
    allowed_sizes: tuple[int, ...] | None = None
    if allowed is not None:
        if isinstance(allowed, (str, bytes)):
            raise ValueError("allowed must be a list of pool sizes, not a string")
        sizes = list(allowed)
        if not sizes:
            raise ValueError("allowed must name at least one pool size")
        allowed_sizes = tuple(sorted({_check_size("allowed", size) for size in sizes}))
    ks = sorted(set(range(1, max_size + 1)) | set(allowed_sizes or ()))
    table = tuple(pool_size_row(k, p, se, sp) for k in ks)
    best_any = _best(table)
    chosen = _best([r for r in table if r.pool_size in allowed_sizes]) if allowed_sizes else best_any
    return PoolAdvice(
        prevalence=p,
        sensitivity=se,
        specificity=sp,
        pool_size=chosen.pool_size,
        tests_per_person=chosen.tests_per_person,
        tests_per_pool=chosen.tests_per_pool,
        pool_positive_probability=chosen.pool_positive_probability,
        false_negatives_per_1000=chosen.false_negatives_per_1000,
        false_positives_per_1000=chosen.false_positives_per_1000,
        efficiency=chosen.efficiency,
        unrestricted_pool_size=best_any.pool_size,
        allowed=allowed_sizes,
        table=table,
    )


def _best(rows: Iterable[PoolSizeRow]) -> PoolSizeRow:
    """The row with the fewest tests per person; near-ties (relative 1e-12) go to the smaller size."""
    best: PoolSizeRow | None = None
    for r in sorted(rows, key=lambda r: r.pool_size):
        if best is None or r.tests_per_person < best.tests_per_person * (1.0 - _TIE):
            best = r
    assert best is not None
    return best


def _check_inputs(p: float, se: float, sp: float) -> tuple[float, float, float]:
    p = _real("prevalence", p)
    if not 0.0 < p < 1.0:
        raise ValueError(f"prevalence must be strictly between 0 and 1, got {p!r}")
    out = [p]
    for name, value in (("sensitivity", se), ("specificity", sp)):
        v = _real(name, value)
        if not 0.0 < v <= 1.0:
            raise ValueError(f"{name} must be in (0, 1], got {v!r}")
        out.append(v)
    return out[0], out[1], out[2]


def _real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if math.isnan(v):
        raise ValueError(f"{name} must be a number, got NaN")
    return v


def _check_size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer pool size, got {value!r}")
    size = int(value)
    if not 1 <= size <= MAX_POOL_SIZE:
        raise ValueError(f"{name} must be between 1 and {MAX_POOL_SIZE}, got {size}")
    return size
