"""Helpers shared by the tests (importable everywhere: ``tests/conftest.py`` puts this folder on
``sys.path``)."""

from __future__ import annotations

import pytest


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``leadlift ARGS`` in-process: ``(exit status, stdout, stderr)``."""
    from leadlift.cli import main

    code = 0
    try:
        main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def one_line(exc: pytest.ExceptionInfo) -> str:
    """The message of a raised error, asserted to be one non-empty line."""
    msg = str(exc.value)
    assert msg and "\n" not in msg, msg
    return msg


def error_line(err: str, *fragments: str) -> str:
    """The one ``error:`` line of a CLI run's stderr (whitespace of wrapped lines joined), asserted to
    be the only one, with no traceback, and to contain every fragment."""
    assert "Traceback" not in err, err
    lines = [" ".join(ln.split()) for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1, err
    for f in fragments:
        assert f in errors[0], errors[0]
    return errors[0]
