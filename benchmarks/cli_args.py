"""Command-line helpers shared by the benchmark scripts (no heavy imports)."""

from __future__ import annotations


def parse_named(items: list[str], example: str = "shipped=src/leadlift/weights/recon-any") -> list[tuple[str, str]]:
    """``NAME=VALUE`` arguments as pairs; a one-line error (exit 2) for any without a name or a value."""
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not (sep and name and value):
            raise SystemExit(f"error: {item!r} is not NAME=CHECKPOINT; write it like {example}")
        pairs.append((name, value))
    return pairs
