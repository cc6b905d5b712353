"""leadlift: from one or a few ECG leads to 12-lead embeddings and reconstructions."""

from leadlift.ecg import ECG, STANDARD_LEADS, derive_limb_leads, normalize_lead_name
from leadlift.errors import LeadliftError

__version__ = "0.1.0"

__all__ = ["ECG", "STANDARD_LEADS", "LeadliftError", "__version__", "derive_limb_leads", "normalize_lead_name"]
