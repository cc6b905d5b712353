"""leadlift: from one or a few ECG leads to 12-lead embeddings and reconstructions."""

from typing import TYPE_CHECKING, Any

from leadlift.ecg import ECG, STANDARD_LEADS, derive_limb_leads, normalize_lead_name
from leadlift.errors import LeadliftError

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
    "ECG", "STANDARD_LEADS", "LeadLift", "LeadliftError", "__version__", "derive_limb_leads", "normalize_lead_name",
]
