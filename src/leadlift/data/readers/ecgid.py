"""ECG-ID Database 1.0.0 (Lugovaya 2005), PhysioNet layout.

``ecgiddb/Person_NN/rec_M.{hea,dat,atr}``: 500 Hz, 20 s, two signals — "ECG I" (raw) and
"ECG I filtered". leadlift reads the filtered lead I by default (``signal="filtered"``).

Metadata columns: ``record_id`` (``"Person_01/rec_1"``), ``patient_id`` / ``person`` (``"Person_01"``),
``person_no`` (1..90), ``record_no`` (M), ``date`` (recording date from the header, ISO
``YYYY-MM-DD``), ``age``, ``sex``, ``path``, ``fs``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import ClassVar

import pandas as pd

from leadlift.data.readers.base import DatasetReader
from leadlift.ecg import ECG
from leadlift.errors import InputError


class ECGIDReader(DatasetReader):
    """Reader of ECG-ID (lead I, 500 Hz).

    Args:
        data_dir: data directory holding ``ecgiddb/``.
        signal: ``"filtered"`` (default, the database's filtered lead I) or ``"raw"``.
    """

    name: ClassVar[str] = "ecgid"
    folder: ClassVar[str] = "ecgiddb"
    title: ClassVar[str] = "ECG-ID Database"
    download_name: ClassVar[str | None] = "ecgid"
    record_glob: ClassVar[str] = "Person_*/rec_*.hea"

    def __init__(self, data_dir: str | Path, signal: str = "filtered") -> None:
        if signal not in ("filtered", "raw"):
            raise InputError(f"ECG-ID signal {signal!r} unknown; use 'filtered' or 'raw'")
        super().__init__(data_dir)
        self.signal = signal

    def index_files(self) -> list[Path]:
        return [self.root / "RECORDS"]

    def _load_metadata(self) -> pd.DataFrame:
        rows = []
        for path, hdr, fields in self._headers():
            person, rec = path.split("/")
            rows.append({
                "record_id": path,
                "patient_id": person,
                "person": person,
                "person_no": int(person.split("_")[1]),
                "record_no": int(rec.split("_")[1]),
                "date": _parse_date(fields.get("ecg date", "")),
                "age": pd.to_numeric(fields.get("age", ""), errors="coerce"),
                "sex": fields.get("sex", ""),
                "path": path,
                "fs": float(hdr.fs),
                "n_samples": int(hdr.sig_len),
            })
        meta = pd.DataFrame(rows)
        return meta.sort_values(["person_no", "record_no"]).reset_index(drop=True)

    def _read_row(self, row: pd.Series) -> ECG:
        channel = 1 if self.signal == "filtered" else 0
        labels = {"person": row["person"], "record_no": int(row["record_no"]), "date": row["date"]}
        return self._ecg_from_wfdb(row, labels, channels=[channel], names=["I"])


def _parse_date(text: str) -> str:
    """``"07.12.2004"`` → ``"2004-12-07"`` (empty string when absent or unparsable)."""
    for fmt in ("%d.%m.%Y", "%d/%m/%Y", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text.strip(), fmt).date().isoformat()
        except ValueError:
            continue
    return ""
