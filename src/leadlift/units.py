"""The one table of ECG amplitude units: names users and files write, and their factor to mV."""

from __future__ import annotations

from leadlift.errors import InputError

__all__ = ["UNIT_ALIASES", "UNIT_TO_MV", "parse_units", "unit_to_mv"]

UNIT_ALIASES: dict[str, str] = {
    "mv": "mV", "millivolt": "mV", "millivolts": "mV",
    "uv": "uV", "µv": "uV", "μv": "uV", "microvolt": "uV", "microvolts": "uV",
    "v": "V", "volt": "V", "volts": "V",
}
"""Lower-case spellings → canonical unit name."""

UNIT_TO_MV: dict[str, float] = {"mV": 1.0, "uV": 1e-3, "V": 1e3}
"""Factor from a canonical unit to millivolts."""


def parse_units(units: str | None) -> str | None:
    """Normalise a unit name (``"mV"``, ``"uV"``/``"µV"``/``"microvolt"``, ``"V"``) or None.

    Raises:
        InputError: for anything else.
    """
    if units is None:
        return None
    key = str(units).strip().lower()
    if key not in UNIT_ALIASES:
        raise InputError(f"unknown unit {units!r}; use mV, uV (µV) or V")
    return UNIT_ALIASES[key]


def unit_to_mv(unit: str | None, default_mv: bool = True) -> float:
    """Factor from ``unit`` to mV. An empty unit (or WFDB's ``"NU"``) means mV when
    ``default_mv`` (WFDB's default; PTB Diagnostic headers omit units).

    Raises:
        InputError: for a unit that is not mV, µV or V.
    """
    text = (unit or "").strip()
    if default_mv and text.lower() in {"", "nu"}:
        return 1.0
    name = parse_units(text)
    assert name is not None
    return UNIT_TO_MV[name]
