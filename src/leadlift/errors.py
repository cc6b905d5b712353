"""User-facing error types.

Every error that can be caused by bad input, missing data or a broken environment is raised as
a subclass of :class:`LeadliftError` with a one-line message that says what is wrong *and* what
to do about it. The CLI prints such errors as ``error: <message>`` and exits with status 2
instead of showing a traceback.
"""

from __future__ import annotations


class LeadliftError(Exception):
    """Base class of all errors meant to be read by a person (one line, with the fix)."""


class InputError(LeadliftError, ValueError):
    """The signal or argument given by the caller is invalid (NaN, wrong fs, unknown lead...)."""


class DataNotFoundError(LeadliftError, FileNotFoundError):
    """A dataset, record or file that was asked for is not present where leadlift looked."""


class CorruptFileError(LeadliftError, OSError):
    """A file exists but cannot be parsed (truncated, wrong format, checksum mismatch)."""


class DownloadError(LeadliftError, OSError):
    """Fetching a dataset from the network failed (no network, HTTP error, checksum)."""


class ConfigError(LeadliftError, ValueError):
    """A configuration file or value is invalid."""


class LowQualityWarning(UserWarning):
    """A reconstruction came from a model whose measured quality for these input leads is below
    leadlift's floor (mean Pearson r or variance ratio < 0.5), or was never measured for them.
    The message is one line naming the model, the inputs, the measured numbers and the fix; the
    output ECG carries the same line in ``labels["quality_warning"]``."""
