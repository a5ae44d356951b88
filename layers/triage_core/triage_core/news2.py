"""NEWS2 early-warning score, Royal College of Physicians 2017 (Charts 1 and 2).

Rounding rule: respiratory rate, SpO2, systolic BP and pulse are rounded half-up to
whole numbers and temperature half-up to 0.1 degrees Celsius before banding, so every
input falls in exactly one band (36.05 becomes 36.1 and scores 0).

Missing parameters: the RCP defines no imputation. A missing parameter scores 0 points,
is listed in ``missing`` and makes the score ``partial``; callers must show that flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# Parameter names in the order of the RCP chart; they are also the vitals field names,
# except air_or_oxygen, which is scored from supplemental_oxygen.
PARAMETERS = (
    "respiratory_rate",
    "spo2",
    "air_or_oxygen",
    "systolic_bp",
    "heart_rate",
    "consciousness",
    "temperature",
)

_INPUT_FIELD = {"air_or_oxygen": "supplemental_oxygen"}

MAX_TOTAL = 20

# RCP 2017: NEWS2 is not validated for children (under 16) or in pregnancy.
# NOTE: the vitals carry no pregnancy flag, so only the age limit is checked.
MIN_ADULT_AGE = 16
CHILD_WARNING = (
    "NEWS2 is validated for adults (16 years and over) only; for a child use a "
    "paediatric early-warning score"
)


@dataclass(frozen=True)
class News2Score:
    """Aggregate NEWS2 with the points of each parameter and the clinical-risk band."""

    total: int
    risk: str  # "low", "low-medium", "medium" or "high" (RCP Chart 2)
    parameters: dict[str, int]
    missing: list[str] = field(default_factory=list)
    spo2_scale: int = 1
    warnings: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return bool(self.missing)

    @property
    def any_single_three(self) -> bool:
        return 3 in self.parameters.values()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["partial"] = self.partial
        return data


def _round(value: float, places: str = "1") -> Decimal:
    return Decimal(str(value)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def round_temperature(celsius: float) -> float:
    """Round half-up to 0.1 degrees Celsius, the precision the NEWS2 bands assume."""
    return float(_round(celsius, "0.1"))


def score_respiratory_rate(rate: float) -> int:
    r = _round(rate)
    if r <= 8:
        return 3
    if r <= 11:
        return 1
    if r <= 20:
        return 0
    if r <= 24:
        return 2
    return 3


def score_spo2(spo2: float, *, scale: int = 1, on_oxygen: bool = False) -> int:
    """Score SpO2 on Scale 1, or on Scale 2 where high values score only on oxygen."""
    s = _round(spo2)
    if scale == 1:
        if s <= 91:
            return 3
        if s <= 93:
            return 2
        if s <= 95:
            return 1
        return 0
    if scale != 2:
        raise ValueError(f"spo2_scale={scale} is invalid; use 1 or 2")
    if s <= 83:
        return 3
    if s <= 85:
        return 2
    if s <= 87:
        return 1
    if s <= 92 or not on_oxygen:
        return 0
    if s <= 94:
        return 1
    if s <= 96:
        return 2
    return 3


def score_air_or_oxygen(on_oxygen: bool) -> int:
    return 2 if on_oxygen else 0


def score_systolic_bp(systolic: float) -> int:
    s = _round(systolic)
    if s <= 90:
        return 3
    if s <= 100:
        return 2
    if s <= 110:
        return 1
    if s <= 219:
        return 0
    return 3


def score_heart_rate(rate: float) -> int:
    r = _round(rate)
    if r <= 40:
        return 3
    if r <= 50:
        return 1
    if r <= 90:
        return 0
    if r <= 110:
        return 1
    if r <= 130:
        return 2
    return 3


def score_consciousness(avpu: str) -> int:
    """Score ``A`` as 0 and new confusion (``C``), ``V``, ``P`` or ``U`` as 3."""
    if avpu not in {"A", "C", "V", "P", "U"}:
        raise ValueError(f"consciousness={avpu!r} is invalid; use A, C, V, P or U")
    return 0 if avpu == "A" else 3


def score_temperature(celsius: float) -> int:
    t = _round(celsius, "0.1")
    if t <= Decimal("35.0"):
        return 3
    if t <= Decimal("36.0"):
        return 1
    if t <= Decimal("38.0"):
        return 0
    if t <= Decimal("39.0"):
        return 1
    return 2


def clinical_risk(total: int, any_single_three: bool) -> str:
    """Map an aggregate to the RCP Chart 2 band; a single 3 never lowers 5+."""
    if total >= 7:
        return "high"
    if total >= 5:
        return "medium"
    if any_single_three:
        return "low-medium"
    return "low"


def score_news2(vitals: Mapping[str, Any]) -> News2Score:
    """Score a mapping of vitals keyed by the patient schema's field names.

    A key that is absent or ``None`` counts as missing. ``spo2_scale`` defaults to 1.
    """
    scale = int(vitals.get("spo2_scale") or 1)
    on_oxygen = vitals.get("supplemental_oxygen")
    points: dict[str, int] = {}
    missing: list[str] = []

    def value_of(parameter: str) -> Any:
        return vitals.get(_INPUT_FIELD.get(parameter, parameter))

    for parameter in PARAMETERS:
        value = value_of(parameter)
        if value is None:
            missing.append(_INPUT_FIELD.get(parameter, parameter))
            points[parameter] = 0
            continue
        if parameter == "respiratory_rate":
            points[parameter] = score_respiratory_rate(value)
        elif parameter == "spo2":
            points[parameter] = score_spo2(
                value, scale=scale, on_oxygen=bool(on_oxygen)
            )
        elif parameter == "air_or_oxygen":
            points[parameter] = score_air_or_oxygen(bool(value))
        elif parameter == "systolic_bp":
            points[parameter] = score_systolic_bp(value)
        elif parameter == "heart_rate":
            points[parameter] = score_heart_rate(value)
        elif parameter == "consciousness":
            points[parameter] = score_consciousness(value)
        else:
            points[parameter] = score_temperature(value)

    total = sum(points.values())
    warnings = []
    age = vitals.get("age")
    if age is not None and age < MIN_ADULT_AGE:
        warnings.append(CHILD_WARNING)
    return News2Score(
        total=total,
        risk=clinical_risk(total, 3 in points.values()),
        parameters=points,
        missing=missing,
        spo2_scale=scale,
        warnings=warnings,
    )
