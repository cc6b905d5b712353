"""Prepared store: contents equal the WFDB samples, reuse, rebuild, atomic writes, datasets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import wfdb
from torch.utils.data import DataLoader

from leadlift.data.datasets import CropDataset, WindowDataset
from leadlift.data.store import PreparedStore, open_store, prepare
from leadlift.errors import DataNotFoundError, InputError


@pytest.fixture(scope="session")
def ptbxl_store(data_dir, tmp_path_factory) -> PreparedStore:
    return prepare("ptbxl", 100, data_dir, store_dir=tmp_path_factory.mktemp("stores"), progress=False)


def test_store_equals_wfdb_samples(ptbxl_store: PreparedStore, data_dir: Path) -> None:
    store = ptbxl_store
    assert store.signals.shape == (len(store.meta), 12, 1000)
    assert store.fs == 100 and store.leads[0] == "I" and store.leads[3] == "aVR"
    assert isinstance(store.signals, np.memmap)
    rng = np.random.default_rng(0)
    for i in rng.choice(len(store), 25, replace=False):
        row = store.meta.iloc[i]
        raw, _ = wfdb.rdsamp(str(data_dir / "ptb-xl" / row["path"]))
        np.testing.assert_array_equal(store.signals[i], raw.T.astype(np.float32))
    for col in ("strat_fold", "patient_id", "NORM", "MI", "STTC", "CD", "HYP", "mi", "n_valid"):
        assert col in store.meta.columns
    assert (store.meta["n_valid"] == 1000).all()


def test_rerun_is_instant_and_reads_nothing(ptbxl_store, data_dir, monkeypatch) -> None:
    from leadlift.data.readers.ptbxl import PTBXLReader

    def boom(*_a, **_k):
        raise AssertionError("an up-to-date store must not read records")

    monkeypatch.setattr(PTBXLReader, "_read_row", boom)
    t0 = time.perf_counter()
    again = prepare("ptbxl", 100, data_dir, store_dir=ptbxl_store.path.parent, progress=False)
    assert time.perf_counter() - t0 < 5
    assert again.manifest["fingerprint"] == ptbxl_store.manifest["fingerprint"]


def test_resampled_store_and_variable_length(data_dir, tmp_path) -> None:
    store = prepare("ptbdb", 100, data_dir, store_dir=tmp_path, progress=False)
    assert store.fs == 100 and store.signals.shape == (1, 12, 3840)  # 38.4 s at 1 kHz -> 100 Hz
    ecg = store.ecg(0)
    assert ecg.patient_id == "patient001"
    short = prepare("ptbdb", 100, data_dir, seconds=10, store_dir=tmp_path, progress=False)
    assert short.signals.shape == (1, 12, 1000)
    np.testing.assert_allclose(short.signals[0], store.signals[0, :, :1000])
    assert open_store("ptbdb", 100, data_dir, store_dir=tmp_path).path == store.path
    with pytest.raises(DataNotFoundError, match="leadlift prepare"):
        open_store("ecgid", 250, data_dir, store_dir=tmp_path)


def _ecgid_copy(data_dir: Path, tmp_path: Path, n_persons: int = 4) -> Path:
    """A small private ECG-ID copy (symlinked signals) so that its headers can be touched."""
    root = tmp_path / "data" / "ecgiddb"
    for person in sorted((data_dir / "ecgiddb").glob("Person_*"))[:n_persons]:
        (root / person.name).mkdir(parents=True)
        for f in person.iterdir():
            os.symlink(f, root / person.name / f.name)
    return root.parent


def test_source_change_triggers_rebuild(data_dir, tmp_path) -> None:
    ddir = _ecgid_copy(data_dir, tmp_path)
    first = prepare("ecgid", 100, ddir, progress=False)
    assert first.path.parent == ddir / "leadlift-prepared"
    assert first.signals.shape[1:] == (1, 2000)
    hea = ddir / "ecgiddb" / "Person_01" / "rec_1.hea"
    text = hea.read_text()
    hea.unlink()
    hea.write_text(text)  # same content, new mtime: the fingerprint changes
    second = prepare("ecgid", 100, ddir, progress=False)
    assert second.manifest["fingerprint"] != first.manifest["fingerprint"]
    versions = [p for p in second.path.iterdir() if p.name.startswith("v-")]
    assert len(versions) == 1  # the old version was removed


def test_killed_prepare_leaves_old_store_intact(data_dir, tmp_path) -> None:
    stores = tmp_path / "stores"
    old = prepare("ecgid", 100, data_dir, store_dir=stores, progress=False)
    before = np.array(old.signals)
    current = (old.path / "CURRENT").read_text()
    proc = subprocess.Popen(
        [sys.executable, "-m", "leadlift.cli", "prepare", "ecgid", "--fs", "100", "--force",
         "--store-dir", str(stores), "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline and not list(old.path.glob("tmp-*")):
        time.sleep(0.01)
    assert list(old.path.glob("tmp-*")), "prepare never started writing"
    time.sleep(0.3)  # let it write part of the array
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (old.path / "CURRENT").read_text() == current
    reopened = PreparedStore.open(old.path)
    np.testing.assert_array_equal(np.array(reopened.signals), before)
    # the next run finds the store up to date and removes the dead run's temporary folder
    prepare("ecgid", 100, data_dir, store_dir=stores, progress=False)
    assert not list(old.path.glob("tmp-*"))


def test_crop_and_window_datasets(ptbxl_store) -> None:
    torch.manual_seed(0)
    ds = CropDataset(ptbxl_store, indices=[0, 1, 2, 3], crop=250, leads="V2,I", label_columns=["NORM", "MI"])
    item = ds[0]
    assert item["signal"].shape == (2, 250) and item["signal"].dtype == torch.float32
    assert item["labels"].shape == (2,)
    full = ptbxl_store.signals[0]
    x = item["signal"].numpy()
    # the crop is a contiguous piece of the V2 and I rows
    starts = [s for s in range(751) if np.array_equal(full[7, s:s + 250], x[0])]
    assert starts and np.array_equal(full[0, starts[0]:starts[0] + 250], x[1])
    center = CropDataset(ptbxl_store, crop=500, mode="center")[5]["signal"].numpy()
    np.testing.assert_array_equal(center, ptbxl_store.signals[5, :, 250:750])
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["signal"].shape == (4, 2, 250)
    win = WindowDataset(ptbxl_store, window=256, hop=64, indices=[0, 1])
    per_record = (1000 - 256) // 64 + 1
    assert len(win) == 2 * per_record and win.groups[0] == ptbxl_store.meta["patient_id"][0]
    np.testing.assert_array_equal(win[1]["signal"].numpy(), ptbxl_store.signals[0, :, 64:320])
    with pytest.raises(InputError, match="label column"):
        CropDataset(ptbxl_store, leads=["I"], label_columns=["nope"])
    with pytest.raises(InputError, match="does not fit"):
        CropDataset(ptbxl_store, crop=5000)


def _prepare_forced(data_dir: str, store_dir: str) -> None:
    from leadlift.data.store import prepare

    prepare("ecgid", 100, data_dir, store_dir=store_dir, force=True, progress=False)


def test_concurrent_prepare_runs_never_delete_each_others_store(data_dir, tmp_path) -> None:
    """Two `prepare --force` runs of the same store at once: the second waits for the first (a lock),
    so CURRENT always names a version folder that exists and the store opens."""
    import multiprocessing

    from leadlift.data.store import PreparedStore

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_prepare_forced, args=(str(data_dir), str(tmp_path))) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0, 0]
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    current = (folder / "CURRENT").read_text().strip()
    assert (folder / current).is_dir() and sorted(p.name for p in folder.glob("v-*")) == [current]
    assert len(PreparedStore.open(folder)) > 300


def test_fingerprint_notices_a_changed_signal_file(data_dir, tmp_path) -> None:
    """A store is rebuilt when a source ``.dat`` changes (size or modification time), not reused."""
    import shutil

    from leadlift.data.store import prepare

    src = data_dir / "ecgiddb"
    dst = tmp_path / "data" / "ecgiddb"
    for person in ("Person_01", "Person_02"):
        shutil.copytree(src / person, dst / person)
    for extra in src.iterdir():
        if extra.is_file():
            shutil.copy2(extra, dst / extra.name)
    messages: list[str] = []
    first = prepare("ecgid", 100, tmp_path / "data", store_dir=tmp_path / "s", progress=False)
    prepare("ecgid", 100, tmp_path / "data", store_dir=tmp_path / "s", progress=False, on_status=messages.append)
    assert any("up to date" in m for m in messages)
    dat = next(dst.glob("Person_01/*.dat"))
    dat.write_bytes(dat.read_bytes())  # same bytes, new modification time
    messages.clear()
    again = prepare("ecgid", 100, tmp_path / "data", store_dir=tmp_path / "s", progress=False,
                    on_status=messages.append)
    assert any("out of date" in m for m in messages) and len(again) == len(first)


# ------------------------------------------------------------------------------ workers, dtype, shards
def test_workers_write_the_same_store_as_one_process(data_dir, tmp_path) -> None:
    one = prepare("ecgid", 100, data_dir, store_dir=tmp_path / "w1", progress=False, workers=1)
    two = prepare("ecgid", 100, data_dir, store_dir=tmp_path / "w2", progress=False, workers=2)
    assert one.manifest["workers"] == 1 and two.manifest["workers"] == 2
    assert np.array_equal(np.asarray(one.signals), np.asarray(two.signals))  # every row in its place
    assert one.meta["n_valid"].tolist() == two.meta["n_valid"].tolist()
    assert one.manifest["fingerprint"] == two.manifest["fingerprint"]


def test_float16_shards_read_like_the_float32_store(data_dir, tmp_path) -> None:
    ref = prepare("ecgid", 100, data_dir, store_dir=tmp_path / "a", progress=False, workers=2)
    half = prepare("ecgid", 100, data_dir, store_dir=tmp_path / "b", progress=False, workers=2, dtype="float16",
                   shards=3)
    n = len(ref)
    assert half.dtype == "float16" and half.signals.dtype == np.float16 and half.signals.shape == ref.signals.shape
    assert half.shards == [(0, round(n / 3)), (round(n / 3), round(2 * n / 3)), (round(2 * n / 3), n)]
    files = sorted(p.name for p in (half.path / (half.path / "CURRENT").read_text().strip()).glob("signals-*.npy"))
    assert files == [f"signals-0000{k}-of-00003.npy" for k in range(3)]
    full = np.asarray(ref.signals)
    # rows across shard borders, in any order, negative and boolean indices, slices of time
    rows = np.array([n - 1, 0, half.shards[1][0], half.shards[1][0] - 1, 5, half.shards[2][0]])
    got = half.signals[rows, :, 10:300].astype(np.float32)
    want = full[rows, :, 10:300]
    assert np.abs(got - want).max() <= np.abs(want).max() * 2**-11 + 1e-6  # float16 rounding only
    assert np.abs(half.signals[-1].astype(np.float32) - full[-1]).max() < 0.01
    mask = np.zeros(n, bool)
    mask[[1, n - 2]] = True
    assert half.signals[mask].shape == (2, *full.shape[1:])
    assert half.signals[3:7].shape == (4, *full.shape[1:])
    assert half.ecg(7).signal.dtype == np.float32  # readers see float32 mV
    np.testing.assert_allclose(half.ecg(7).signal, ref.ecg(7).signal, atol=0.01)
    with pytest.raises(IndexError):
        half.signals[n]
    # dataset items are float32 whatever the storage
    item = CropDataset(half, np.arange(4), crop=200)[2]
    assert item["signal"].dtype == torch.float32


def test_storage_options_are_kept_unless_changed(data_dir, tmp_path) -> None:
    half = prepare("ecgid", 100, data_dir, store_dir=tmp_path, progress=False, dtype="float16", shards=2)
    again = prepare("ecgid", 100, data_dir, store_dir=tmp_path, progress=False)  # no options: reuse as it is
    assert again.path == half.path and again.dtype == "float16" and len(again.shards) == 2
    assert (again.path / "CURRENT").read_text() == (half.path / "CURRENT").read_text()
    full = prepare("ecgid", 100, data_dir, store_dir=tmp_path, progress=False, dtype="float32")  # rebuild
    assert full.dtype == "float32" and len(full.shards) == 1 and isinstance(full.signals, np.memmap)
    assert len([p for p in tmp_path.glob("ecgid-100hz/v-*")]) == 1  # the old version was cleaned up


@pytest.mark.parametrize("kwargs, fragment", [({"dtype": "float64"}, "--dtype"), ({"shards": 0}, "--shards"),
                                              ({"workers": 0}, "--workers"), ({"shards": 1.5}, "--shards")])
def test_bad_storage_options_are_one_line(data_dir, tmp_path, kwargs, fragment) -> None:
    with pytest.raises(InputError, match=fragment):
        prepare("ecgid", 100, data_dir, store_dir=tmp_path, progress=False, **kwargs)


def test_a_worker_names_the_record_it_cannot_read(data_dir, tmp_path) -> None:
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(data_dir / "ecgiddb", copy / "ecgiddb")
    dat = copy / "ecgiddb" / "Person_02" / "rec_1.dat"
    dat.write_bytes(dat.read_bytes()[:5000])
    with pytest.raises(Exception, match="Person_02/rec_1") as err:
        prepare("ecgid", 100, copy, store_dir=tmp_path / "s", progress=False, workers=2)
    assert "\n" not in str(err.value)
    assert not list((tmp_path / "s").glob("*/tmp-*"))  # the half-written build was removed


def test_a_store_larger_than_the_free_disk_is_refused_before_writing(data_dir, tmp_path) -> None:
    with pytest.raises(InputError, match=r"--fs.*--seconds") as err:
        prepare("ecgid", 1e9, data_dir, store_dir=tmp_path, progress=False)  # ~25 TB at 1 GHz
    assert "GB free" in str(err.value) and "\n" not in str(err.value)
    assert not list(tmp_path.glob("*/tmp-*")) and not list(tmp_path.glob("*/v-*"))
