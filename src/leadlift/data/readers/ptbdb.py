"""PTB Diagnostic ECG Database 1.0.0 (Bousseljot et al. 1995), PhysioNet layout.

``ptbdb/patientNNN/sXXXXlre.{hea,dat,xyz}``: 1 kHz, 15 signals (the 12 standard leads, spelled
``i ii iii avr avl avf v1..v6``, plus the Frank leads vx, vy, vz). leadlift keeps the 12
standard leads. The clinical summary is in the header comments; the label comes from
``Reason for admission``.

Metadata columns: ``record_id`` (``"patient001/s0010_re"``), ``patient_id`` (``"patient001"``),
``path``, ``fs``, ``n_samples``, ``reason`` (free text), ``diagnosis`` (normalised: ``MI``,
``healthy`` or the reason in lower case), ``mi`` (1 = myocardial infarction),
``healthy`` (1 = healthy control), ``age``, ``sex``.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pandas as pd

from leadlift.data.readers.base import DatasetReader
from leadlift.ecg import ECG, STANDARD_LEADS, normalize_lead_name
from leadlift.errors import CorruptFileError


class PTBDiagnosticReader(DatasetReader):
    """Reader of the PTB Diagnostic ECG Database (12 standard leads at 1 kHz)."""

    name: ClassVar[str] = "ptbdb"
    folder: ClassVar[str] = "ptbdb"
    title: ClassVar[str] = "PTB Diagnostic ECG Database"
    download_name: ClassVar[str | None] = "ptbdb"
    record_glob: ClassVar[str] = "patient*/s*.hea"

    def index_files(self) -> list[Path]:
        return [self.root / "RECORDS"]

    def _load_metadata(self) -> pd.DataFrame:
        rows = []
        for path, hdr, fields in self._headers():
            reason = fields.get("reason for admission", "")
            low = reason.lower()
            mi = int("myocardial infarction" in low)
            healthy = int("healthy control" in low)
            age = pd.to_numeric(fields.get("age", ""), errors="coerce")
            rows.append({
                "record_id": path,
                "patient_id": path.split("/")[0],
                "path": path,
                "fs": float(hdr.fs),
                "n_samples": int(hdr.sig_len),
                "reason": reason,
                "diagnosis": "MI" if mi else ("healthy" if healthy else (low or "unknown")),
                "mi": mi,
                "healthy": healthy,
                "age": float(age) if pd.notna(age) else float("nan"),
                "sex": fields.get("sex", ""),
                "sig_name": ",".join(hdr.sig_name),
            })
        return pd.DataFrame(rows, columns=["record_id", "patient_id", "path", "fs", "n_samples", "reason",
                                           "diagnosis", "mi", "healthy", "age", "sex", "sig_name"])

    def _read_row(self, row: pd.Series) -> ECG:
        names = str(row["sig_name"]).split(",")
        channels, leads = [], []
        for i, raw in enumerate(names):
            try:
                lead = normalize_lead_name(raw)
            except ValueError:
                continue  # Frank leads vx/vy/vz
            channels.append(i)
            leads.append(lead)
        if sorted(leads, key=STANDARD_LEADS.index) != list(STANDARD_LEADS):
            raise CorruptFileError(f"PTB record {row['record_id']} has leads {names}; expected the 12 "
                                   "standard leads — re-download it")
        labels = {"reason": row["reason"], "diagnosis": row["diagnosis"], "mi": int(row["mi"]),
                  "healthy": int(row["healthy"])}
        return self._ecg_from_wfdb(row, labels, channels=channels, names=leads)
