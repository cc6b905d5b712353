"""PhysioNet/CinC Challenge 2021 training format.

Each record is ``NAME.hea`` + ``NAME.mat`` (WFDB header, MATLAB v4 signal), with SNOMED-CT
diagnoses on the ``# Dx:`` header line; ``dx_mapping.csv`` (if present at the dataset root)
names the codes. Sources are kept in sub-folders (``ptb-xl/``, ``ptb/``, ``georgia/``...).
Sampling rates differ between sources (257 Hz to 1 kHz); each record keeps its own.

``subset="ptb"`` (or any other sub-folder name) restricts the reader to one source, e.g. the
PTB Diagnostic records ``ptb/S*`` (1 kHz) as a dataset of their own beside ``ptbdb/``; the
default (``None``) reads every source. Prepared stores of a subset are kept apart
(``cinc2021-ptb-<fs>hz``, see :meth:`CinC2021Reader.store_label`).

Metadata columns: ``record_id`` (``"ptb/S0001"``), ``source`` (sub-folder), ``patient_id``
(unknown in this format: the record id, so that patient-wise splits stay conservative),
``path``, ``fs``, ``n_samples``, ``dx`` (``"251146004;426783006"``), ``dx_names``
(abbreviations from ``dx_mapping.csv``), ``age``, ``sex``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from leadlift.data.readers.base import DatasetReader
from leadlift.ecg import ECG
from leadlift.errors import DataNotFoundError, InputError


class CinC2021Reader(DatasetReader):
    """Reader of the CinC 2021 ``.mat``/``.hea`` format (12 leads, per-record fs).

    Args:
        data_dir: data directory holding ``challenge-2021/`` (or that folder itself).
        subset: read only the records of this source sub-folder (``"ptb"``, ``"ptb-xl"``,
            ``"georgia"``...); ``None`` (default) reads every source.
    """

    name: ClassVar[str] = "cinc2021"
    folder: ClassVar[str] = "challenge-2021"
    title: ClassVar[str] = "PhysioNet/CinC Challenge 2021"
    download_name: ClassVar[str | None] = "cinc2021"
    signal_suffix: ClassVar[str] = ".mat"

    def __init__(self, data_dir: str | Path, subset: str | None = None) -> None:
        super().__init__(data_dir)
        if subset is not None:
            subset = str(subset).strip().strip("/")
            if not subset or ".." in subset.split("/"):
                raise InputError(f"CinC 2021 subset {subset!r} is not a sub-folder name; pass e.g. subset='ptb'")
            if not (self.root / subset).is_dir():
                present = sorted(p.name for p in self.root.iterdir() if p.is_dir())
                raise DataNotFoundError(f"CinC 2021 subset {subset!r}: no folder {self.root / subset}; "
                                        f"present sources: {', '.join(present) or 'none'}")
        self.subset = subset

    @classmethod
    def store_label(cls, **options: Any) -> str:
        """``cinc2021`` for every source, ``cinc2021-<subset>`` (e.g. ``cinc2021-ptb``) for one."""
        subset = options.get("subset")
        if subset is None:
            return cls.name
        return f"{cls.name}-{re.sub(r'[^A-Za-z0-9-]+', '-', str(subset).strip().strip('/'))}"

    def _record_paths(self) -> list[str]:
        paths = super()._record_paths()
        if self.subset is None:
            return paths
        return [p for p in paths if p.startswith(f"{self.subset}/")]

    def index_files(self) -> list[Path]:
        return [self.root / "dx_mapping.csv"]

    def dx_mapping(self) -> dict[str, str]:
        """SNOMED code → abbreviation (empty when ``dx_mapping.csv`` is absent)."""
        path = self.root / "dx_mapping.csv"
        if not path.exists():
            return {}
        table = pd.read_csv(path, dtype=str)
        return dict(zip(table["snomed_code"], table["abbreviation"], strict=True))

    def _load_metadata(self) -> pd.DataFrame:
        names = self.dx_mapping()
        rows = []
        for path, hdr, fields in self._headers():
            dx = [c.strip() for c in fields.get("dx", "").split(",") if c.strip()]
            rows.append({
                "record_id": path,
                "source": path.split("/")[0] if "/" in path else "",
                "patient_id": path,
                "path": path,
                "fs": float(hdr.fs),
                "n_samples": int(hdr.sig_len),
                "dx": ";".join(dx),
                "dx_names": ";".join(names.get(c, c) for c in dx),
                "age": pd.to_numeric(fields.get("age", ""), errors="coerce"),
                "sex": fields.get("sex", ""),
            })
        return pd.DataFrame(rows)

    def _read_row(self, row: pd.Series) -> ECG:
        labels = {"dx": [c for c in str(row["dx"]).split(";") if c],
                  "dx_names": [c for c in str(row["dx_names"]).split(";") if c],
                  "source": row["source"]}
        return self._ecg_from_wfdb(row, labels)
