"""One CLI vocabulary: every command's --help renders with an example, and the shared options have
the same names (and defaults) wherever they apply."""

from __future__ import annotations

import pytest
from typer.main import get_command

from helpers import run_cli
from leadlift.cli import app

COMMANDS = get_command(app).commands  # type: ignore[attr-defined]
# commands that run models or training (where torch's thread count matters)
COMPUTE = {"pretrain", "cross-recon", "reconstruct", "embed", "model-card", "evaluate", "quickstart",
           "reconstruct-benchmark", "train-recon", "export"}
# long jobs with a progress bar
LONG = {"download", "prepare", "pretrain", "quickstart", "reconstruct-benchmark", "train-recon"}


def _options(name: str) -> dict[str, object]:
    """``{option name: click parameter}`` of a command (every spelling, primary and secondary)."""
    found = {}
    for p in COMMANDS[name].params:
        if getattr(p, "param_type_name", "") == "option":
            for spelling in [*p.opts, *getattr(p, "secondary_opts", [])]:
                found[spelling] = p
    return found


def test_the_command_list_is_what_the_tests_know() -> None:
    assert COMPUTE | LONG <= set(COMMANDS)
    assert {"datasets", "show", "info"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_help_page_renders_and_ends_with_an_example(name, capsys) -> None:
    code, out, err = run_cli([name, "--help"], capsys)
    assert code == 0, err
    assert "Example: leadlift " + name in " ".join(out.split()), out[-600:]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_shared_option_names(name) -> None:
    opts = _options(name)
    if "--out" in opts:
        assert "-o" in opts, f"{name}: --out without -o"
    if "--inputs" in opts:  # the old spelling is only an alias of --leads
        assert opts["--inputs"] is opts.get("--leads"), f"{name}: --inputs is not an alias of --leads"
    if name in COMPUTE:
        assert "--threads" in opts, f"{name} runs torch but has no --threads"
    if name in LONG:
        assert "--progress" in opts and "--no-progress" in opts, f"{name}: no --progress/--no-progress"
        assert opts["--progress"].default is True, f"{name}: progress bars must default to on everywhere"
    if "--data-dir" in opts:
        assert "-d" in opts
    for spelling in opts:
        assert spelling == spelling.lower(), f"{name}: option {spelling} is not lower case"


def test_input_leads_are_spelled_leads_everywhere() -> None:
    with_leads = {n for n in COMMANDS if "--leads" in _options(n)}
    assert {"reconstruct", "embed", "show", "cross-recon", "model-card", "reconstruct-benchmark",
            "train-recon"} <= with_leads
    assert not [n for n in COMMANDS if "--inputs" in _options(n) and "--leads" not in _options(n)]


def test_version(capsys) -> None:
    import leadlift

    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and leadlift.__version__ in out


def test_info_takes_a_bundled_name(capsys) -> None:
    code, out, err = run_cli(["info", "recon-i"], capsys)
    assert code == 0, err
    assert "FusionReconstructor" in out or "model:" in out
    code, _, err = run_cli(["info", "no-such-model-name"], capsys)
    assert code == 2 and "Traceback" not in err
