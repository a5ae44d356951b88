"""NEWS2 bands, aggregates and risk categories against the RCP 2017 charts."""

from __future__ import annotations

import pytest

from triage_core.news2 import (
    clinical_risk,
    score_air_or_oxygen,
    score_consciousness,
    score_heart_rate,
    score_news2,
    score_respiratory_rate,
    score_spo2,
    score_systolic_bp,
    score_temperature,
)


@pytest.mark.parametrize(
    ("rate", "points"),
    [
        (4, 3),
        (8, 3),
        (9, 1),
        (11, 1),
        (12, 0),
        (20, 0),
        (21, 2),
        (24, 2),
        (25, 3),
        (60, 3),
    ],
)
def test_respiratory_rate_bands(rate: int, points: int) -> None:
    assert score_respiratory_rate(rate) == points


@pytest.mark.parametrize(
    ("spo2", "points"),
    [(50, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)],
)
def test_spo2_scale1_bands(spo2: int, points: int) -> None:
    assert score_spo2(spo2, scale=1, on_oxygen=False) == points
    # Scale 1 does not depend on oxygen: the oxygen points are a separate parameter.
    assert score_spo2(spo2, scale=1, on_oxygen=True) == points


@pytest.mark.parametrize(
    ("spo2", "on_oxygen", "points"),
    [
        (83, False, 3),
        (84, False, 2),
        (85, False, 2),
        (86, False, 1),
        (87, False, 1),
        (88, False, 0),
        (92, False, 0),
        (93, False, 0),
        (97, False, 0),
        (100, False, 0),
        (88, True, 0),
        (92, True, 0),
        (93, True, 1),
        (94, True, 1),
        (95, True, 2),
        (96, True, 2),
        (97, True, 3),
        (100, True, 3),
        (83, True, 3),
    ],
)
def test_spo2_scale2_bands(spo2: int, on_oxygen: bool, points: int) -> None:
    assert score_spo2(spo2, scale=2, on_oxygen=on_oxygen) == points


def test_spo2_unknown_scale_rejected() -> None:
    with pytest.raises(ValueError, match="spo2_scale=3"):
        score_spo2(95, scale=3)


@pytest.mark.parametrize(("on_oxygen", "points"), [(False, 0), (True, 2)])
def test_air_or_oxygen(on_oxygen: bool, points: int) -> None:
    assert score_air_or_oxygen(on_oxygen) == points


@pytest.mark.parametrize(
    ("systolic", "points"),
    [
        (40, 3),
        (90, 3),
        (91, 2),
        (100, 2),
        (101, 1),
        (110, 1),
        (111, 0),
        (219, 0),
        (220, 3),
    ],
)
def test_systolic_bp_bands(systolic: int, points: int) -> None:
    assert score_systolic_bp(systolic) == points


@pytest.mark.parametrize(
    ("pulse", "points"),
    [
        (20, 3),
        (40, 3),
        (41, 1),
        (50, 1),
        (51, 0),
        (90, 0),
        (91, 1),
        (110, 1),
        (111, 2),
        (130, 2),
        (131, 3),
    ],
)
def test_heart_rate_bands(pulse: int, points: int) -> None:
    assert score_heart_rate(pulse) == points


@pytest.mark.parametrize(
    ("celsius", "points"),
    [
        (30.0, 3),
        (35.0, 3),
        (35.1, 1),
        (36.0, 1),
        (36.1, 0),
        (38.0, 0),
        (38.1, 1),
        (39.0, 1),
        (39.1, 2),
        (44.0, 2),
        # Half-up rounding to 0.1 before banding closes the gaps between bands.
        (36.05, 0),
        (35.04, 3),
        (38.04, 0),
        (38.05, 1),
    ],
)
def test_temperature_bands(celsius: float, points: int) -> None:
    assert score_temperature(celsius) == points


@pytest.mark.parametrize(
    ("avpu", "points"), [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)]
)
def test_consciousness(avpu: str, points: int) -> None:
    assert score_consciousness(avpu) == points


def test_consciousness_unknown_rejected() -> None:
    with pytest.raises(ValueError, match="consciousness='X'"):
        score_consciousness("X")


@pytest.mark.parametrize(
    ("total", "single_three", "risk"),
    [
        (0, False, "low"),
        (4, False, "low"),
        (3, True, "low-medium"),
        (4, True, "low-medium"),
        (5, False, "medium"),
        (6, True, "medium"),
        (7, False, "high"),
        (20, True, "high"),
    ],
)
def test_clinical_risk(total: int, single_three: bool, risk: str) -> None:
    assert clinical_risk(total, single_three) == risk


# Hand-worked vectors (RCP 2017 Chart 1 bands): RR, SpO2, scale, O2, SBP, pulse, AVPU,
# temperature -> total and risk.
VECTORS = [
    (16, 98, 1, False, 125, 72, "A", 36.8, 0, "low"),
    (22, 95, 1, False, 105, 95, "A", 38.3, 6, "medium"),
    (26, 90, 1, True, 88, 125, "V", 39.5, 18, "high"),
    (8, 97, 1, False, 120, 80, "A", 37.0, 3, "low-medium"),
    (18, 96, 1, False, 130, 88, "C", 36.5, 3, "low-medium"),
    (12, 94, 1, False, 110, 90, "A", 36.0, 3, "low"),
    (20, 96, 1, True, 111, 91, "A", 38.0, 3, "low"),
    (24, 93, 2, True, 140, 100, "A", 37.2, 6, "medium"),
    (21, 89, 2, False, 100, 110, "A", 36.1, 5, "medium"),
    (30, 85, 1, True, 70, 140, "U", 34.5, 20, "high"),
    (19, 84, 2, True, 115, 51, "A", 38.1, 5, "medium"),
]


@pytest.mark.parametrize(
    ("rr", "spo2", "scale", "oxygen", "sbp", "pulse", "avpu", "temp", "total", "risk"),
    VECTORS,
)
def test_news2_reference_vectors(
    rr: int,
    spo2: int,
    scale: int,
    oxygen: bool,
    sbp: int,
    pulse: int,
    avpu: str,
    temp: float,
    total: int,
    risk: str,
) -> None:
    score = score_news2(
        {
            "respiratory_rate": rr,
            "spo2": spo2,
            "spo2_scale": scale,
            "supplemental_oxygen": oxygen,
            "systolic_bp": sbp,
            "heart_rate": pulse,
            "consciousness": avpu,
            "temperature": temp,
        }
    )
    assert score.total == total
    assert score.risk == risk
    assert score.partial is False
    assert sum(score.parameters.values()) == total


def test_news2_parameter_breakdown() -> None:
    score = score_news2(
        {
            "respiratory_rate": 22,
            "spo2": 95,
            "supplemental_oxygen": False,
            "systolic_bp": 105,
            "heart_rate": 95,
            "consciousness": "A",
            "temperature": 38.3,
        }
    )
    assert score.parameters == {
        "respiratory_rate": 2,
        "spo2": 1,
        "air_or_oxygen": 0,
        "systolic_bp": 1,
        "heart_rate": 1,
        "consciousness": 0,
        "temperature": 1,
    }
    assert score.spo2_scale == 1


def test_news2_partial_when_temperature_missing() -> None:
    score = score_news2(
        {
            "respiratory_rate": 26,
            "spo2": 97,
            "supplemental_oxygen": False,
            "systolic_bp": 120,
            "heart_rate": 80,
            "consciousness": "A",
            "temperature": None,
        }
    )
    assert score.partial is True
    assert score.missing == ["temperature"]
    assert score.total == 3
    assert score.risk == "low-medium"
    assert score.to_dict()["partial"] is True


def test_news2_all_missing_scores_zero_partial() -> None:
    score = score_news2({})
    assert score.total == 0
    assert score.partial is True
    assert len(score.missing) == 7
    assert "supplemental_oxygen" in score.missing


def test_news2_maximum_is_twenty() -> None:
    score = score_news2(
        {
            "respiratory_rate": 4,
            "spo2": 50,
            "supplemental_oxygen": True,
            "systolic_bp": 40,
            "heart_rate": 250,
            "consciousness": "U",
            "temperature": 30.0,
        }
    )
    assert score.total == 20


@pytest.mark.parametrize(
    ("age", "warned"), [(0, True), (15, True), (16, False), (90, False)]
)
def test_news2_warns_below_adult_age(age: int, warned: bool) -> None:
    score = score_news2({"age": age, "respiratory_rate": 18})
    assert bool(score.warnings) is warned
    if warned:
        assert "16 years" in score.warnings[0]
    assert score.to_dict()["warnings"] == score.warnings


def test_news2_no_warning_without_age() -> None:
    assert score_news2({"respiratory_rate": 18}).warnings == []
