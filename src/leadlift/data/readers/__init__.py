"""Dataset readers: one module per dataset, each returning :class:`~leadlift.ecg.ECG` records
and a metadata table. See :mod:`leadlift.data.readers.base` for the contract."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from leadlift.data.readers.base import DatasetReader, read_wfdb
from leadlift.data.readers.brugada import BrugadaHUCAReader, brugada_binary
from leadlift.data.readers.cinc2021 import CinC2021Reader
from leadlift.data.readers.ecgid import ECGIDReader
from leadlift.data.readers.ptbdb import PTBDiagnosticReader
from leadlift.data.readers.ptbxl import SUPERCLASSES, PTBXLReader, scp_multi_hot
from leadlift.errors import InputError

READERS: dict[str, type[DatasetReader]] = {
    cls.name: cls for cls in (PTBXLReader, PTBDiagnosticReader, ECGIDReader, CinC2021Reader, BrugadaHUCAReader)
}
"""Known datasets by their leadlift name."""


def canonical_name(name: str) -> str:
    """Map a dataset name or alias (``ptb-xl``, ``ecgiddb``, ``challenge-2021``...) to its leadlift name."""
    key = name.lower().replace("-", "").replace("_", "")
    aliases = {"ptbdiagnostic": "ptbdb", "ptb": "ptbdb", "ecgiddb": "ecgid", "challenge2021": "cinc2021",
               "brugadahuca": "brugada"}
    key = aliases.get(key, key)
    if key not in READERS:
        raise InputError(f"unknown dataset {name!r}; use one of {', '.join(READERS)}")
    return key


def reader_option_names(name: str) -> tuple[str, ...]:
    """Keyword options that the reader of dataset ``name`` accepts (e.g. ``("subset",)`` for cinc2021)."""
    params = inspect.signature(READERS[canonical_name(name)].__init__).parameters
    return tuple(p for p in params if p not in ("self", "data_dir"))


def get_reader(name: str, data_dir: str | Path, **options: Any) -> DatasetReader:
    """Instantiate the reader of dataset ``name`` (``ptbxl``, ``ptbdb``, ``ecgid``, ``cinc2021``,
    ``brugada``) with its keyword ``options`` (:func:`reader_option_names`; e.g. ``subset="ptb"``).

    Raises:
        InputError: unknown dataset or an option the reader does not take.
    """
    key = canonical_name(name)
    accepted = reader_option_names(key)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise InputError(f"dataset {key} has no option {', '.join(unknown)}; "
                         + (f"its options are {', '.join(accepted)}" if accepted else "it takes no options"))
    return READERS[key](data_dir, **options)


__all__ = [
    "READERS", "SUPERCLASSES", "BrugadaHUCAReader", "CinC2021Reader", "DatasetReader", "ECGIDReader",
    "PTBDiagnosticReader", "PTBXLReader", "brugada_binary", "canonical_name", "get_reader", "read_wfdb",
    "reader_option_names", "scp_multi_hot",
]
