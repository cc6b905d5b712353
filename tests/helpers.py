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
