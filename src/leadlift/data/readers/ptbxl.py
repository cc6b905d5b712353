"""PTB-XL (Wagner et al. 2020), official PhysioNet layout.

``ptb-xl/ptbxl_database.csv``, ``scp_statements.csv``, ``records100/NNNNN/NNNNN_lr`` (100 Hz)
and ``records500/NNNNN/NNNNN_hr`` (500 Hz); 12 leads, 10 s, mV.

Metadata columns: ``record_id`` (``"00001"``), ``ecg_id``, ``patient_id``, ``strat_fold``,
``age``, ``sex``, ``path``, ``fs``, ``scp_codes`` (JSON: statement → likelihood %),
``scp_statements`` (``"NORM;SR"``), one 0/1 column per diagnostic superclass
(:data:`SUPERCLASSES`), ``superclasses`` (``"MI;STTC"``), ``diagnostic_subclasses`` and the MI
binary label ``mi``.

Superclass rule (the one of the PTB-XL authors' example code): a record belongs to every
diagnostic superclass of any of its SCP statements flagged ``diagnostic`` in
``scp_statements.csv``, whatever the statement's likelihood. ``min_likelihood`` restricts it.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from leadlift.conventions import SUPERCLASSES
from leadlift.data.readers.base import DatasetReader, present_records
from leadlift.ecg import ECG
from leadlift.errors import CorruptFileError, InputError

"""PTB-XL diagnostic superclasses, in the conventional order."""


class PTBXLReader(DatasetReader):
    """Reader of PTB-XL.

    Args:
        data_dir: data directory holding ``ptb-xl/`` (or that folder itself).
        fs: 100 (``records100``) or 500 (``records500``).
        min_likelihood: ignore SCP statements with a likelihood below this (0 keeps all).
    """

    name: ClassVar[str] = "ptbxl"
    folder: ClassVar[str] = "ptb-xl"
    title: ClassVar[str] = "PTB-XL"
    download_name: ClassVar[str | None] = "ptbxl"

    def __init__(self, data_dir: str | Path, fs: int = 100, min_likelihood: float = 0.0) -> None:
        if fs not in (100, 500):
            raise InputError(f"PTB-XL is published at 100 or 500 Hz, not {fs}; pass fs=100 or fs=500 "
                             "(resample afterwards for other rates)")
        super().__init__(data_dir)
        self.fs = int(fs)
        self.min_likelihood = float(min_likelihood)

    def index_files(self) -> list[Path]:
        return [self.root / "ptbxl_database.csv", self.root / "scp_statements.csv"]

    def statements(self) -> pd.DataFrame:
        """``scp_statements.csv`` indexed by statement code."""
        path = self.root / "scp_statements.csv"
        if not path.exists():
            raise CorruptFileError(f"{path} missing; PTB-XL needs it for the diagnostic classes "
                                   "— re-download the dataset")
        return pd.read_csv(path, index_col=0)

    def _load_metadata(self) -> pd.DataFrame:
        db_path = self.root / "ptbxl_database.csv"
        if not db_path.exists():
            raise CorruptFileError(f"{db_path} missing; it is PTB-XL's index — re-download the dataset")
        db = pd.read_csv(db_path)
        col = "filename_lr" if self.fs == 100 else "filename_hr"
        paths = db[col].astype(str).tolist()
        db = db[present_records(self.root, paths, f"PTB-XL {self.fs} Hz")].copy()
        stm = self.statements()
        diag = stm[stm["diagnostic"] == 1]
        to_class = diag["diagnostic_class"].to_dict()
        to_sub = diag["diagnostic_subclass"].to_dict()

        codes = [self._parse_codes(s, rid) for s, rid in zip(db["scp_codes"], db["ecg_id"], strict=True)]
        codes = [{k: v for k, v in c.items() if v >= self.min_likelihood} for c in codes]
        supers = [sorted({to_class[k] for k in c if k in to_class}, key=SUPERCLASSES.index) for c in codes]
        subs = [sorted({to_sub[k] for k in c if k in to_sub}) for c in codes]
        out = pd.DataFrame({
            "record_id": [f"{int(e):05d}" for e in db["ecg_id"]],
            "ecg_id": db["ecg_id"].astype(int).to_numpy(),
            "patient_id": [str(int(p)) for p in db["patient_id"]],
            "strat_fold": db["strat_fold"].astype(int).to_numpy(),
            "age": db["age"].to_numpy(dtype=float),
            "sex": db["sex"].to_numpy(),
            "path": db[col].astype(str).to_numpy(),
            "fs": float(self.fs),
            "recording_date": db["recording_date"].astype(str).to_numpy(),
            "scp_codes": [json.dumps(c) for c in codes],
            "scp_statements": [";".join(c) for c in codes],
            "superclasses": [";".join(s) for s in supers],
            "diagnostic_subclasses": [";".join(s) for s in subs],
        })
        for cls in SUPERCLASSES:
            out[cls] = np.array([cls in s for s in supers], dtype=np.int8)
        out["mi"] = out["MI"].astype(np.int8)
        return out

    @staticmethod
    def _parse_codes(text: str, ecg_id: int) -> dict[str, float]:
        try:
            value = ast.literal_eval(str(text))
        except (ValueError, SyntaxError):
            raise CorruptFileError(f"PTB-XL ecg_id {ecg_id}: unreadable scp_codes {text!r} in "
                                   "ptbxl_database.csv; re-download the file") from None
        return {str(k): float(v) for k, v in dict(value).items()}

    def _read_row(self, row: pd.Series) -> ECG:
        labels = {
            "strat_fold": int(row["strat_fold"]),
            "scp_codes": json.loads(row["scp_codes"]),
            "superclasses": [s for s in str(row["superclasses"]).split(";") if s],
            "mi": int(row["mi"]),
            "age": row["age"],
            "sex": row["sex"],
        }
        return self._ecg_from_wfdb(row, labels)


def scp_multi_hot(meta: pd.DataFrame, codes: list[str] | None = None) -> pd.DataFrame:
    """Multi-hot matrix of SCP statements (one 0/1 column per code) from the metadata table.

    Args:
        meta: :meth:`PTBXLReader.metadata` output (needs ``scp_statements``).
        codes: statement codes to use as columns (default: every code that occurs).
    """
    sets = [set(s.split(";")) - {""} for s in meta["scp_statements"].astype(str)]
    if codes is None:
        codes = sorted(set().union(*sets)) if sets else []
    return pd.DataFrame({c: np.array([c in s for s in sets], dtype=np.int8) for c in codes},
                        index=meta.index)
