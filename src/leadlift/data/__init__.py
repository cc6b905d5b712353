"""Data: public ECG databases on disk and the windows models see.

* :mod:`~leadlift.data.download` — fetch PhysioNet databases (checksums, resume);
* :mod:`~leadlift.data.readers` — one reader per database, records as :class:`~leadlift.ecg.ECG` (mV);
* :mod:`~leadlift.data.store` — prepared stores: every record resampled once, memory-mapped;
* :mod:`~leadlift.data.splits` — the PTB-XL fold convention, patient-grouped splits;
* :mod:`~leadlift.data.windows` — window indices, window QC and labels over a store;
* :mod:`~leadlift.data.datasets` — torch ``Dataset`` views of a store (crops, windows).

Readers never train and never touch models; only :mod:`~leadlift.data.windows` and
:mod:`~leadlift.data.datasets` import torch.
"""
