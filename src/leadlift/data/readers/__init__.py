"""Dataset readers: one module per dataset, each returning :class:`~leadlift.ecg.ECG` records
and a metadata table. See :mod:`leadlift.data.readers.base` for the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leadlift.data.readers.base import DatasetReader, read_wfdb
from leadlift.data.readers.cinc2021 import CinC2021Reader
from leadlift.data.readers.ecgid import ECGIDReader
from leadlift.data.readers.ptbdb import PTBDiagnosticReader
from leadlift.data.readers.ptbxl import SUPERCLASSES, PTBXLReader, scp_multi_hot
from leadlift.errors import InputError

READERS: dict[str, type[DatasetReader]] = {
    cls.name: cls for cls in (PTBXLReader, PTBDiagnosticReader, ECGIDReader, CinC2021Reader)
}
"""Known datasets by their leadlift name."""


def canonical_name(name: str) -> str:
    """Map a dataset name or alias (``ptb-xl``, ``ecgiddb``, ``challenge-2021``...) to its leadlift name."""
    key = name.lower().replace("-", "").replace("_", "")
    aliases = {"ptbdiagnostic": "ptbdb", "ptb": "ptbdb", "ecgiddb": "ecgid", "challenge2021": "cinc2021"}
    key = aliases.get(key, key)
    if key not in READERS:
        raise InputError(f"unknown dataset {name!r}; use one of {', '.join(READERS)}")
    return key


def get_reader(name: str, data_dir: str | Path, **options: Any) -> DatasetReader:
    """Instantiate the reader of dataset ``name`` (``ptbxl``, ``ptbdb``, ``ecgid``, ``cinc2021``)."""
    return READERS[canonical_name(name)](data_dir, **options)


__all__ = [
    "READERS", "SUPERCLASSES", "CinC2021Reader", "DatasetReader", "ECGIDReader", "PTBDiagnosticReader",
    "PTBXLReader", "canonical_name", "get_reader", "read_wfdb", "scp_multi_hot",
]
