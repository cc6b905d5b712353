"""Environment faults at every entry point: a full disk (simulated where the bytes are committed:
``leadlift.atomic._fsync`` for every atomic writer, ``os.pwrite`` for the store) and a location that
cannot be written (under ``/proc``; the tests run as root, where permission bits do not bind). Each
gives exit status 2 and one plain line naming the problem, and leaves no partial or temporary file."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import leadlift.atomic
from helpers import error_line, run_cli

UNWRITABLE = Path("/proc/leadlift-cannot-write-here")


@pytest.fixture
def full_disk(monkeypatch):
    def no_space(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(leadlift.atomic, "_fsync", no_space)


@pytest.fixture(scope="module")
def ecgid_hea(data_dir: Path) -> Path:
    return data_dir / "ecgiddb" / "Person_01" / "rec_1.hea"


def _nothing_partial(folder: Path) -> None:
    left = [p.name for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    assert left == [], left


@pytest.mark.parametrize("suffix", [".csv", ".npz", ".edf"])
def test_reconstruct_on_a_full_disk(ecgid_hea, tmp_path, full_disk, capsys, suffix) -> None:
    out = tmp_path / "out"
    out.mkdir()
    code, _, err = run_cli(["reconstruct", str(ecgid_hea), "--model", "recon-i", "--leads", "I",
                            "-o", str(out / f"x{suffix}")], capsys)
    assert code == 2, err
    error_line(err, "No space left on device", "free space")
    _nothing_partial(out)


def test_reconstruct_into_an_unwritable_place(ecgid_hea, capsys) -> None:
    code, _, err = run_cli(["reconstruct", str(ecgid_hea), "--model", "recon-i", "--leads", "I",
                            "-o", str(UNWRITABLE / "x.csv")], capsys)
    assert code == 2, err
    error_line(err, str(UNWRITABLE))


def test_embed_on_a_full_disk(ecgid_hea, tmp_path, full_disk, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    code, _, err = run_cli(["embed", str(ecgid_hea), "--model", "mae-cpu", "--leads", "I",
                            "-o", str(out / "e.parquet")], capsys)
    assert code == 2, err
    error_line(err, "No space left on device")
    _nothing_partial(out)


def test_show_on_a_full_disk(ecgid_hea, tmp_path, full_disk, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    code, _, err = run_cli(["show", str(ecgid_hea), "-o", str(out / "x.png")], capsys)
    assert code == 2, err
    error_line(err, "No space left on device")
    _nothing_partial(out)


def test_prepare_on_a_full_disk_keeps_the_previous_store(data_dir, tmp_path, monkeypatch, capsys) -> None:
    stores = tmp_path / "stores"
    code, _, err = run_cli(["prepare", "ecgid", "--data-dir", str(data_dir), "--store-dir", str(stores),
                            "--workers", "1", "--no-progress"], capsys)
    assert code == 0, err
    current = (stores / "ecgid-100hz" / "CURRENT").read_text()

    def no_space(fd, data, offset):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", no_space)
    code, _, err = run_cli(["prepare", "ecgid", "--data-dir", str(data_dir), "--store-dir", str(stores),
                            "--workers", "1", "--force", "--no-progress"], capsys)
    assert code == 2, err
    error_line(err, "No space left on device")
    assert (stores / "ecgid-100hz" / "CURRENT").read_text() == current  # the old version stays live
    assert not list((stores / "ecgid-100hz").glob("tmp-*"))


def test_prepare_into_an_unwritable_place(data_dir, capsys) -> None:
    code, _, err = run_cli(["prepare", "ecgid", "--data-dir", str(data_dir), "--store-dir", str(UNWRITABLE),
                            "--no-progress"], capsys)
    assert code == 2, err
    error_line(err, str(UNWRITABLE))


def test_pretrain_on_a_full_disk(data_dir, tmp_path, full_disk, capsys) -> None:
    out = tmp_path / "run"
    code, _, err = run_cli(["pretrain", "-c", "mae-tiny", "--data-dir", str(data_dir), "--store-dir",
                            str(tmp_path / "stores"), "-o", str(out), "--max-epochs", "1", "--accelerator", "cpu",
                            "--no-progress"], capsys)
    assert code == 2, err
    error_line(err, "No space left on device")
    assert not (out / "model.safetensors").exists()
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]


def test_pretrain_into_an_unwritable_place(data_dir, tmp_path, capsys) -> None:
    code, _, err = run_cli(["pretrain", "-c", "mae-tiny", "--data-dir", str(data_dir), "--store-dir",
                            str(tmp_path / "stores"), "-o", str(UNWRITABLE / "run"), "--max-epochs", "1",
                            "--accelerator", "cpu", "--no-progress"], capsys)
    assert code == 2, err
    error_line(err, str(UNWRITABLE))


def test_info_on_a_folder_without_a_checkpoint(tmp_path, capsys) -> None:
    code, _, err = run_cli(["info", str(tmp_path)], capsys)
    assert code == 2, err
    error_line(err)


def test_api_reconstruct_does_not_write_and_save_errors_are_one_line(ecgid_hea, tmp_path, full_disk) -> None:
    from leadlift import LeadLift
    from leadlift.io import read_ecg, write_ecg

    lift = LeadLift.from_pretrained("recon-i")
    ecg = read_ecg(ecgid_hea, leads="I")
    rec = lift.reconstruct(ecg)  # inference itself touches no file
    with pytest.raises(OSError) as exc:
        write_ecg(rec, tmp_path / "x.csv")
    assert exc.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_paths_with_markup_characters_are_printed_as_they_are(ecgid_hea, tmp_path, capsys) -> None:
    out = tmp_path / "a[/b]" / "[red]x.csv"
    code, stdout, err = run_cli(["reconstruct", str(ecgid_hea), "--model", "recon-i", "--leads", "I", "-o", str(out)],
                                capsys)
    assert code == 0, err
    assert out.exists() and str(out) in " ".join(stdout.split())
