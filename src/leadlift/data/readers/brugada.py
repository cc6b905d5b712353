"""Brugada-HUCA 1.0.0 (Costa Cortez & Garcia Iglesias, PhysioNet), PhysioNet layout.

``brugada-huca/metadata.csv`` (one row per patient: ``patient_id``, ``basal_pattern``,
``sudden_death``, ``brugada``), ``metadata_dictionary.csv`` and
``files/<patient_id>/<patient_id>.{hea,dat}``: one record per patient, 12 leads (I..V6),
100 Hz, 12 s (1200 samples), mV.

Labels (as in ``metadata.csv``): ``brugada`` 0 = no Brugada syndrome, 1 = Brugada syndrome,
2 = uncertain diagnosis; ``basal_pattern`` 1 = pathological baseline ECG; ``sudden_death``
1 = the patient had a sudden death. leadlift adds the binary target ``brugada_syndrome``:
1.0 when ``brugada == 1``, 0.0 when ``brugada == 0`` and **NaN** for the uncertain ones, so that
they can never be counted silently as negatives or as a third class; select the labelled rows
with ``meta["brugada_syndrome"].notna()`` (or use :func:`brugada_binary`).

Duplicates: some patient ids carry byte-identical signals. ``duplicate_signal_pairs.csv``
(``patient_id_a``, ``patient_id_b``), when present, lists them; leadlift also compares the
signal files itself (a copy without that list is still safe). Every such set of patients gets
one ``group`` id (the smallest patient id of the set; a patient's own id otherwise), so that
group-wise splits (:mod:`leadlift.data.splits`) keep duplicates on the same side.

Metadata columns: ``record_id`` (= ``patient_id``, e.g. ``"188981"``), ``patient_id``,
``group``, ``duplicate_of`` (the other ids of the set, ``;``-joined, ``""`` if none),
``path`` (``"files/188981/188981"``), ``fs``, ``n_samples``, ``brugada``, ``basal_pattern``,
``sudden_death``, ``brugada_syndrome``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from leadlift.data.readers.base import DatasetReader
from leadlift.ecg import ECG, STANDARD_LEADS, normalize_lead_name
from leadlift.errors import CorruptFileError, InputError

LABEL_COLUMNS: tuple[str, ...] = ("brugada", "basal_pattern", "sudden_death")
"""The 0/1(/2) label columns of ``metadata.csv``."""


class BrugadaHUCAReader(DatasetReader):
    """Reader of Brugada-HUCA (one 12-lead, 12-s, 100-Hz record per patient, mV)."""

    name: ClassVar[str] = "brugada"
    folder: ClassVar[str] = "brugada-huca"
    title: ClassVar[str] = "Brugada-HUCA"

    def index_files(self) -> list[Path]:
        return [self.root / "metadata.csv", self.root / "duplicate_signal_pairs.csv"]

    def patients(self) -> pd.DataFrame:
        """``metadata.csv`` as published (every listed patient, present or not), ids as strings."""
        path = self.root / "metadata.csv"
        if not path.exists():
            raise CorruptFileError(f"{path} missing; it is Brugada-HUCA's index — re-download the dataset")
        table = pd.read_csv(path, dtype={"patient_id": str})
        missing = [c for c in ("patient_id", *LABEL_COLUMNS) if c not in table.columns]
        if missing:
            raise CorruptFileError(f"{path} lacks column(s) {', '.join(missing)}; re-download the dataset")
        table["patient_id"] = table["patient_id"].str.strip()
        if table["patient_id"].duplicated().any():
            raise CorruptFileError(f"{path} lists a patient id twice; re-download the dataset")
        return table

    def duplicate_pairs(self) -> list[tuple[str, str]]:
        """Pairs of patient ids listed in ``duplicate_signal_pairs.csv`` (empty when absent)."""
        path = self.root / "duplicate_signal_pairs.csv"
        if not path.exists():
            return []
        table = pd.read_csv(path, dtype=str)
        if not {"patient_id_a", "patient_id_b"} <= set(table.columns):
            raise CorruptFileError(f"{path} needs columns patient_id_a, patient_id_b; fix or delete the file")
        return [(a.strip(), b.strip()) for a, b in zip(table["patient_id_a"], table["patient_id_b"], strict=True)]

    def _record_paths(self) -> list[str]:
        return [f"files/{pid}/{pid}" for pid in self.patients()["patient_id"]]

    def _load_metadata(self) -> pd.DataFrame:
        table = self.patients().set_index("patient_id")
        rows = []
        for path, hdr, _fields in self._headers():
            pid = path.split("/")[1]
            rows.append({"record_id": pid, "patient_id": pid, "path": path, "fs": float(hdr.fs),
                         "n_samples": int(hdr.sig_len), "sig_name": ",".join(hdr.sig_name)})
        meta = pd.DataFrame(rows, columns=["record_id", "patient_id", "path", "fs", "n_samples", "sig_name"])
        for col in LABEL_COLUMNS:
            meta[col] = table.loc[meta["patient_id"], col].to_numpy(dtype=np.int64)
        meta["brugada_syndrome"] = brugada_binary(meta)
        groups = self._groups(meta)
        meta.insert(2, "group", [groups[p] for p in meta["patient_id"]])
        members = meta.groupby("group")["patient_id"].agg(list).to_dict()
        meta.insert(3, "duplicate_of", [";".join(q for q in members[g] if q != p)
                                        for p, g in zip(meta["patient_id"], meta["group"], strict=True)])
        return meta

    def _groups(self, meta: pd.DataFrame) -> dict[str, str]:
        """Patient id → group id: listed duplicate pairs and identical signal files joined."""
        parent = {p: p for p in meta["patient_id"]}

        def find(p: str) -> str:
            while parent[p] != p:
                parent[p] = parent[parent[p]]
                p = parent[p]
            return p

        def union(a: str, b: str) -> None:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb, key=_id_order)] = min(ra, rb, key=_id_order)

        for a, b in self.duplicate_pairs():
            if a in parent and b in parent:  # a pair with a missing member needs no group
                union(a, b)
        first_with: dict[str, str] = {}
        for pid, path in zip(meta["patient_id"], meta["path"], strict=True):
            digest = hashlib.sha256((self.root / f"{path}{self.signal_suffix}").read_bytes()).hexdigest()
            if digest in first_with:
                union(first_with[digest], pid)
            else:
                first_with[digest] = pid
        return {p: find(p) for p in parent}

    def _read_row(self, row: pd.Series) -> ECG:
        names = str(row["sig_name"]).split(",")
        try:
            leads = [normalize_lead_name(n) for n in names]
        except InputError:
            leads = []
        if sorted(leads, key=STANDARD_LEADS.index) != list(STANDARD_LEADS):
            raise CorruptFileError(f"Brugada-HUCA record {row['record_id']} has signals {names}; expected "
                                   "the 12 standard leads — re-download it")
        labels = {col: int(row[col]) for col in LABEL_COLUMNS}
        labels["brugada_syndrome"] = float(row["brugada_syndrome"])
        labels["group"] = str(row["group"])
        return self._ecg_from_wfdb(row, labels, names=leads)


def brugada_binary(meta: pd.DataFrame) -> pd.Series:
    """Binary Brugada-syndrome target from the ``brugada`` column (0/1/2).

    Returns a float Series aligned with ``meta``: 1.0 (``brugada == 1``), 0.0 (``brugada == 0``),
    NaN for uncertain diagnoses (``brugada == 2``) — drop those rows, never score them.
    """
    code = meta["brugada"].astype(int)
    bad = sorted(set(code) - {0, 1, 2})
    if bad:
        raise CorruptFileError(f"Brugada-HUCA brugada codes {bad} unknown (expected 0, 1, 2); re-download "
                               "metadata.csv")
    return code.map({0: 0.0, 1: 1.0, 2: float("nan")}).astype(float).rename("brugada_syndrome")


def _id_order(pid: str) -> tuple[int, str]:
    """Sort key of patient ids: numeric ids by value (shorter first), then lexicographically."""
    return (len(pid), pid)
