"""leadlift: from one or a few ECG leads to 12-lead embeddings and reconstructions.

Where things live (layers; a module imports only from its own layer's core and from layers below
it — ``tests/test_layers.py`` checks this):

0. core — :mod:`~leadlift.ecg` (the ``ECG`` record: mV, ``fs``, lead names), ``errors``, ``units``,
   ``conventions`` (the PTB-XL fold convention, the superclasses),
   ``atomic`` (atomic writes), ``paths`` (the data-directory rule), ``preprocessing`` (resample,
   filters, z-score, windows, overlap-add), ``config``/``recon_config``/``configs`` (typed YAML
   experiment configs shipped as package data), ``plotting``;
1. :mod:`~leadlift.io` — users' own files (WFDB, CSV, NPY/NPZ, EDF) in and out;
2. :mod:`~leadlift.data` — public databases: download, readers, prepared stores, splits, windows;
   :mod:`~leadlift.models` and ``losses`` — pure PyTorch networks and objectives (never read files);
3. :mod:`~leadlift.inference` — checkpoint format, one backend per format (where lead I becomes
   12 leads), the record pipeline, the hub; never imports Lightning or training code;
4. :mod:`~leadlift.training` — both papers' Lightning modules and drivers (paper 2:
   :mod:`leadlift.training.recon`); :mod:`~leadlift.evaluation` — metrics, protocols, reports on
   frozen models (never trains). Neither imports the other;
5. :mod:`~leadlift.workflows` — jobs that combine training and evaluation (reconstruction
   benchmark, quickstart, release/model cards); :mod:`~leadlift.api` — ``LeadLift``;
6. :mod:`~leadlift.cli` — the ``leadlift`` command, a thin layer over the above.
"""

from typing import TYPE_CHECKING, Any

from leadlift.ecg import ECG, STANDARD_LEADS, derive_limb_leads, normalize_lead_name
from leadlift.errors import LeadliftError, LowQualityWarning

if TYPE_CHECKING:
    from leadlift.api import LeadLift

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``leadlift.LeadLift`` is imported on first use (it pulls in torch; ``import leadlift`` stays light)."""
    if name == "LeadLift":
        from leadlift.api import LeadLift

        return LeadLift
    raise AttributeError(f"module 'leadlift' has no attribute {name!r}")


__all__ = [
    "ECG", "STANDARD_LEADS", "LeadLift", "LeadliftError", "LowQualityWarning", "__version__", "derive_limb_leads",
    "normalize_lead_name",
]
