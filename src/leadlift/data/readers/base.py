"""Common machinery of the dataset readers.

A reader turns one dataset folder (in the dataset's own PhysioNet layout) into

* a metadata table (:meth:`DatasetReader.metadata`, a :class:`pandas.DataFrame` with one row per
  record that is *present* on disk, indexed 0..n-1, with at least the columns ``record_id``,
  ``patient_id``, ``path`` (WFDB record path relative to the dataset folder) and ``fs``), and
* :class:`~leadlift.ecg.ECG` records (:meth:`DatasetReader.read`).

Readers never train, never cache and never resample: that is the prepared store's job.
Records that the dataset's index lists but that are missing on disk are skipped with one
warning line per dataset (partial copies are normal).
"""

from __future__ import annotations

import copy
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import wfdb

from leadlift.ecg import ECG, normalize_lead_name
from leadlift.errors import CorruptFileError, DataNotFoundError, InputError, LeadliftError
from leadlift.io.wfdb import read_wfdb

log = logging.getLogger("leadlift.data.readers")


def header_fields(comments: Sequence[str]) -> dict[str, str]:
    """Parse ``key: value`` header comment lines into a dict (keys lower-cased, stripped)."""
    out: dict[str, str] = {}
    for line in comments:
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip().lstrip("#").strip().lower()] = value.strip()
    return out


def present_records(root: Path, record_paths: Sequence[str], dataset: str,
                    signal_suffixes: Sequence[str] = (".dat",)) -> np.ndarray:
    """Boolean mask of the records whose header and signal file both exist.

    Logs ONE warning line for the dataset when some are missing.
    """
    ok = np.array([
        (root / f"{p}.hea").exists() and any((root / f"{p}{s}").exists() for s in signal_suffixes)
        for p in record_paths
    ], dtype=bool)
    missing = int((~ok).sum())
    if missing:
        log.warning("%s: %d of %d records listed in the index are missing under %s; skipped",
                    dataset, missing, len(record_paths), root)
    return ok


class DatasetReader(ABC):
    """Base class of the dataset readers.

    Args:
        data_dir: the leadlift data directory; the dataset is expected in ``data_dir/<folder>``
            (or pass the dataset folder itself).
    """

    name: ClassVar[str]
    folder: ClassVar[str]
    title: ClassVar[str]
    #: name of the PhysioNet dataset in :mod:`leadlift.data.download` (None: not downloadable)
    download_name: ClassVar[str | None] = None
    #: extension of the signal files next to the ``.hea`` headers
    signal_suffix: ClassVar[str] = ".dat"
    #: glob of the record headers, used when the dataset has no ``RECORDS`` index
    record_glob: ClassVar[str] = "**/*.hea"

    def __init__(self, data_dir: str | Path) -> None:
        data_dir = Path(data_dir).expanduser()
        root = data_dir / self.folder
        if not root.is_dir() and data_dir.name == self.folder:
            root = data_dir
        if not root.is_dir():
            hint = (f"run `leadlift download {self.download_name} --data-dir {data_dir}` or "
                    if self.download_name else "")
            raise DataNotFoundError(
                f"{self.title} not found: no folder {root}; {hint}point --data-dir / LEADLIFT_DATA "
                f"at the folder that contains {self.folder}/"
            )
        self.data_dir = data_dir
        self.root = root
        self._meta: pd.DataFrame | None = None

    # ------------------------------------------------------------------ API
    def metadata(self) -> pd.DataFrame:
        """One row per present record (cached after the first call)."""
        if self._meta is None:
            meta = self._load_metadata().reset_index(drop=True)
            for col in ("record_id", "patient_id", "path", "fs"):
                if col not in meta.columns:
                    raise AssertionError(f"{type(self).__name__} metadata lacks column {col}")
            self._meta = meta
        return self._meta

    def __len__(self) -> int:
        return len(self.metadata())

    def read(self, key: int | str) -> ECG:
        """Read one record by row position or ``record_id``."""
        meta = self.metadata()
        if isinstance(key, str):
            hits = np.flatnonzero(meta["record_id"].astype(str).to_numpy() == key)
            if len(hits) == 0:
                raise DataNotFoundError(
                    f"{self.title}: record {key!r} is not present; `leadlift datasets` lists what is"
                )
            key = int(hits[0])
        if not 0 <= int(key) < len(meta):
            raise InputError(f"{self.title}: record index {key} out of range 0..{len(meta) - 1}")
        return self.read_row(meta.iloc[int(key)])

    def read_row(self, row: pd.Series) -> ECG:
        """Read the record a metadata row describes (a row of :meth:`metadata`); errors name it.

        Lets a worker process read records from rows it was handed, without the whole table."""
        try:
            return self._read_row(row)
        except LeadliftError as exc:
            raise self._record_error(row, exc) from None

    def without_metadata(self) -> DatasetReader:
        """A shallow copy without the cached metadata table (cheap to send to worker processes
        that read with :meth:`read_row`)."""
        clone = copy.copy(self)
        clone._meta = None
        return clone

    def _record_error(self, row: pd.Series, exc: LeadliftError) -> LeadliftError:
        """``exc`` (same type) with its message prefixed by the dataset and record it concerns."""
        message = " ".join(str(exc).split())
        where = f"{self.title} record {row['record_id']}"
        if message.startswith(where):
            return exc
        file = self.root / str(row["path"])
        return type(exc)(f"{where}: {message}" if str(file) in message else f"{where} ({file}): {message}")

    def _damaged_hint(self) -> str:
        if self.download_name:
            return (f"check the copy with `leadlift download {self.download_name} --verify` and download "
                    "damaged files again, or remove the record from the dataset folder to leave it out")
        return "copy the record again, or remove it from the dataset folder to leave it out"

    def __iter__(self) -> Iterator[ECG]:
        for i in range(len(self)):
            yield self.read(i)

    def source_files(self) -> list[Path]:
        """Files whose change must invalidate a prepared store (index files, headers, signals)."""
        meta = self.metadata()
        files = [self.root / f"{p}{ext}" for p in meta["path"] for ext in (".hea", self.signal_suffix)]
        return files + [f for f in self.index_files() if f.exists()]

    def index_files(self) -> list[Path]:
        """Dataset-level index/label files (overridden by readers that have them)."""
        return []

    @classmethod
    def store_label(cls, **options: Any) -> str:
        """Name under which a prepared store of this reader with these options is kept.

        The reader's :attr:`name` by default; readers whose options select *different records*
        (e.g. a CinC 2021 sub-database) return a distinct label, so that two selections never
        share a store folder.
        """
        return cls.name

    def _record_paths(self) -> list[str]:
        """Record paths (relative to :attr:`root`, without extension) that the dataset lists.

        The dataset's ``RECORDS`` index when it exists, else every header matching
        :attr:`record_glob` (sorted). Readers with another index override this.
        """
        index = self.root / "RECORDS"
        if index.exists():
            return [ln.strip() for ln in index.read_text().splitlines() if ln.strip()]
        return sorted(str(p.relative_to(self.root).with_suffix("")) for p in self.root.glob(self.record_glob))

    def _headers(self) -> Iterator[tuple[str, Any, dict[str, str]]]:
        """``(record path, WFDB header, parsed comment fields)`` of every present record.

        Records come from :meth:`_record_paths`; missing ones are skipped with one warning
        (:func:`present_records`).
        """
        paths = self._record_paths()
        ok = present_records(self.root, paths, self.title, signal_suffixes=(self.signal_suffix,))
        for path in (p for p, keep in zip(paths, ok, strict=True) if keep):
            try:
                hdr = wfdb.rdheader(str(self.root / path))
            except Exception as exc:
                raise CorruptFileError(f"cannot parse header {self.root / path}.hea ({exc}); "
                                       "re-download the record") from None
            yield path, hdr, header_fields(hdr.comments or [])

    # ------------------------------------------------------------------ to implement
    @abstractmethod
    def _load_metadata(self) -> pd.DataFrame: ...

    @abstractmethod
    def _read_row(self, row: pd.Series) -> ECG: ...

    # ------------------------------------------------------------------ helpers
    def _ecg_from_wfdb(self, row: pd.Series, labels: dict[str, Any],
                       channels: Sequence[int] | None = None,
                       names: Sequence[str] | None = None) -> ECG:
        signal, fs, sig_names, _units, _ = read_wfdb(self.root / row["path"], channels=channels)
        leads = names if names is not None else [normalize_lead_name(n) for n in sig_names]
        bad = ~np.isfinite(signal)
        if bad.any():
            rows = ", ".join(str(leads[i]) for i in np.flatnonzero(bad.any(axis=1)))
            raise CorruptFileError(
                f"{self.title} record {row['record_id']} ({self.root / row['path']}): {int(bad.sum())} invalid "
                f"(NaN) samples in lead {rows}; {self._damaged_hint()}"
            )
        # units come from the header (converted to mV by read_wfdb), so the µV/V guess is not
        # applied: real artefacts (e.g. saturated ECG-ID records) are left to window QC.
        return ECG(signal, fs, tuple(leads), record_id=str(row["record_id"]),
                   patient_id=None if pd.isna(row["patient_id"]) else str(row["patient_id"]),
                   labels=labels, check_units=False)

