"""Reading and writing users' own recordings (separate from the dataset readers in
:mod:`leadlift.data.readers`).

* :func:`read_ecg` reads WFDB, CSV, ``.npy``/``.npz`` and EDF/EDF+ into an
  :class:`~leadlift.ecg.ECG` (mV); the rules for ``fs``, lead names and units are in
  :mod:`leadlift.io.readers`.
* :func:`write_ecg` writes CSV, NPZ, WFDB or EDF, atomically (no partial file on failure).

Example::

    from leadlift.io import read_ecg, write_ecg
    ecg = read_ecg("watch.csv", fs=512, leads="I")         # CSV without time column
    ecg = read_ecg("ecgiddb/Person_01/rec_1.hea")          # WFDB: fs, leads, units from the header
    write_ecg(ecg, "out/rec_1.npz")
"""

from leadlift.atomic import atomic_dir_files, atomic_path
from leadlift.io.readers import (
    FORMATS,
    detect_format,
    parse_units,
    read_csv,
    read_ecg,
    read_edf,
    read_npy,
    read_npz,
    read_wfdb,
)
from leadlift.io.writers import (
    OUTPUT_FORMATS,
    output_format,
    output_paths,
    write_csv,
    write_ecg,
    write_edf,
    write_npz,
    write_wfdb,
)

__all__ = [
    "FORMATS",
    "OUTPUT_FORMATS",
    "atomic_dir_files",
    "atomic_path",
    "detect_format",
    "output_format",
    "output_paths",
    "parse_units",
    "read_csv",
    "read_ecg",
    "read_edf",
    "read_npy",
    "read_npz",
    "read_wfdb",
    "write_csv",
    "write_ecg",
    "write_edf",
    "write_npz",
    "write_wfdb",
]
