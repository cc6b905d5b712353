"""The Hub code (leadlift.inference.hub through LeadLift.from_pretrained / save_pretrained /
push_to_hub), without network: ``huggingface_hub.snapshot_download`` is replaced by a fake Hub that
serves repos from local folders into a real huggingface_hub cache layout, so the offline path is
the real library reading that cache; ``HfApi`` is replaced by a recorder. Real bundled weights and
a real PTB-XL record check that a saved and re-loaded model gives the same outputs."""

from __future__ import annotations

import fnmatch
import hashlib
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import huggingface_hub
import numpy as np
import pytest
import yaml
from huggingface_hub import errors as hf

from helpers import one_line
from leadlift import LeadLift
from leadlift.ecg import ECG
from leadlift.errors import DataNotFoundError, DownloadError
from leadlift.inference.checkpoint import file_sha256
from leadlift.inference.hub import CARD_FILES, HUB_FILES
from leadlift.inference.model_card import split_front_matter
from leadlift.io import read_ecg

REAL_SNAPSHOT_DOWNLOAD = huggingface_hub.snapshot_download


def _hf_error(cls: type[Exception], status: int) -> Exception:
    """A huggingface_hub HTTP error as the library raises it (built without an HTTP response
    object, whose class depends on the huggingface_hub version)."""
    err = cls.__new__(cls)
    Exception.__init__(err, f"{status} Client Error\nmulti-line detail from the Hub")
    err.response = SimpleNamespace(status_code=status)  # type: ignore[attr-defined]
    return err


def _into_cache(cache: Path, repo_id: str, revision: str, files: dict[str, bytes]) -> Path:
    """Write ``files`` as huggingface_hub's cache does: blobs by hash, a snapshot folder of links
    named by the commit, and ``refs/<revision>`` naming that commit."""
    root = cache / f"models--{repo_id.replace('/', '--')}"
    commit = hashlib.sha1(repr(sorted((k, hashlib.sha256(v).hexdigest()) for k, v in files.items())).encode())
    commit_id = commit.hexdigest()
    snap = root / "snapshots" / commit_id
    snap.mkdir(parents=True, exist_ok=True)
    (root / "blobs").mkdir(exist_ok=True)
    for name, data in files.items():
        blob = root / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = snap / name
        if not link.exists():
            link.symlink_to(Path("..") / ".." / "blobs" / blob.name)
    (root / "refs").mkdir(exist_ok=True)
    (root / "refs" / revision).write_text(commit_id)
    return snap


class FakeHub:
    """Repos as local folders: ``repos[(repo_id, revision)] = folder``; ``gated`` repo ids answer
    403. Online calls copy the allowed files into the cache layout; ``local_files_only`` calls go
    to the real snapshot_download (which reads that cache)."""

    def __init__(self) -> None:
        self.repos: dict[tuple[str, str], Path] = {}
        self.gated: set[str] = set()
        self.calls: list[dict[str, Any]] = []
        self.error: Exception | None = None

    def snapshot_download(self, repo_id: str, **kw: Any) -> str:
        self.calls.append({"repo_id": repo_id, **kw})
        if kw.get("local_files_only"):
            return REAL_SNAPSHOT_DOWNLOAD(repo_id, **kw)
        if self.error is not None:
            raise self.error
        revision = kw.get("revision") or "main"
        if repo_id in self.gated:
            raise _hf_error(hf.GatedRepoError, 403)
        if not any(r == repo_id for r, _ in self.repos):
            raise _hf_error(hf.RepositoryNotFoundError, 404)
        folder = self.repos.get((repo_id, revision))
        if folder is None:
            raise _hf_error(hf.RevisionNotFoundError, 404)
        patterns = kw.get("allow_patterns") or ["*"]
        files = {p.name: p.read_bytes() for p in folder.iterdir()
                 if p.is_file() and any(fnmatch.fnmatch(p.name, pat) for pat in patterns)}
        cache = Path(kw.get("cache_dir") or huggingface_hub.constants.HF_HUB_CACHE)
        return str(_into_cache(cache, repo_id, revision, files))


@pytest.fixture()
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    for var in ("HF_HUB_OFFLINE", "LEADLIFT_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    hub = FakeHub()
    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub.snapshot_download)
    return hub


@pytest.fixture(scope="module")
def recon_i() -> LeadLift:
    return LeadLift.from_pretrained("recon-i")


@pytest.fixture(scope="module")
def record(data_dir: Path) -> ECG:
    """PTB-XL 00009 (fold 10) at 500 Hz: 12 leads, 10 s."""
    return read_ecg(data_dir / "ptb-xl" / "records500" / "00000" / "00009_hr.hea")


def _repo_folder(src: Path, dst: Path, extra: bool = True) -> Path:
    """A Hub repo's files: the checkpoint, its card, and files a checkpoint does not need."""
    dst.mkdir(parents=True)
    for name in (*HUB_FILES, "MODEL_CARD.md"):
        shutil.copy2(src / name, dst / name)
    if extra:
        (dst / "optimizer.pt").write_bytes(b"\0" * 1024)  # must never be fetched
        (dst / "runs.log").write_text("training log\n")
    return dst


def _same_reconstruction(a: LeadLift, b: LeadLift, record: ECG) -> None:
    """Both models reconstruct the 12 leads of ``record`` from its lead I identically."""
    np.testing.assert_array_equal(a.reconstruct(record, leads="I").signal, b.reconstruct(record, leads="I").signal)


# --------------------------------------------------------------------------------------- download
def test_repo_id_downloads_only_checkpoint_files_at_the_revision(fake_hub: FakeHub, recon_i: LeadLift,
                                                                 record: ECG, tmp_path: Path) -> None:
    fake_hub.repos[("org/recon", "v1")] = _repo_folder(recon_i.path, tmp_path / "remote")
    cache = tmp_path / "cache"
    lift = LeadLift.from_pretrained("org/recon", revision="v1", cache_dir=cache, token="hf_test")
    call = fake_hub.calls[-1]
    assert call["revision"] == "v1" and call["token"] == "hf_test" and call["cache_dir"] == cache
    assert not call["local_files_only"] and call["library_name"] == "leadlift"
    assert set(call["allow_patterns"]) == {*HUB_FILES, *CARD_FILES}
    assert lift.path.is_relative_to(cache / "models--org--recon" / "snapshots")
    assert sorted(p.name for p in lift.path.iterdir()) == ["MODEL_CARD.md", "config.yaml", "model.safetensors"]
    _same_reconstruction(lift, recon_i, record)
    # a downloaded checkpoint is verified like a bundled one: damaged weights are refused
    fake_hub.repos[("org/bad", "main")] = bad = _repo_folder(recon_i.path, tmp_path / "bad", extra=False)
    data = bytearray((bad / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (bad / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(Exception, match="does not match the checksum"):
        LeadLift.from_pretrained("org/bad", cache_dir=cache)


def test_offline_uses_the_cache_and_says_when_nothing_is_cached(fake_hub: FakeHub, recon_i: LeadLift,
                                                                tmp_path: Path, monkeypatch) -> None:
    fake_hub.repos[("org/recon", "main")] = _repo_folder(recon_i.path, tmp_path / "remote")
    cache = tmp_path / "cache"
    online = LeadLift.from_pretrained("org/recon", cache_dir=cache)
    # the real huggingface_hub resolves the cached snapshot: local_files_only, HF_HUB_OFFLINE, LEADLIFT_OFFLINE
    assert LeadLift.from_pretrained("org/recon", cache_dir=cache, local_files_only=True).path == online.path
    for var in ("HF_HUB_OFFLINE", "LEADLIFT_OFFLINE"):
        monkeypatch.setenv(var, "1")
        assert LeadLift.from_pretrained("org/recon", cache_dir=cache).path == online.path
        assert fake_hub.calls[-1]["local_files_only"] is True
        monkeypatch.delenv(var)
    for kwargs in ({"repo": "org/other"}, {"repo": "org/recon", "revision": "v2"}):
        with pytest.raises(DataNotFoundError, match="offline mode is on") as exc:
            LeadLift.from_pretrained(kwargs["repo"], revision=kwargs.get("revision"), cache_dir=cache,
                                     local_files_only=True)
        assert str(cache) in one_line(exc)


def test_no_network_is_one_line(tmp_path: Path, monkeypatch) -> None:
    """The real huggingface_hub against a closed port (nothing listens on loopback port 9)."""
    for var in ("HF_HUB_OFFLINE", "LEADLIFT_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(DownloadError, match="no network") as exc:
        LeadLift.from_pretrained("org/unreachable", cache_dir=tmp_path / "cache")
    one_line(exc)


@pytest.mark.parametrize(("case", "error", "fragments"), [
    ("missing", DataNotFoundError, ("not found on the Hugging Face Hub", "huggingface-cli login", "no local folder")),
    ("gated", DownloadError, ("is gated", "token=", "huggingface-cli login")),
    ("revision", DataNotFoundError, ("revision 'nope'", "not found")),
    ("unauthorised", DownloadError, ("HTTP 401", "huggingface-cli login")),
    ("server", DownloadError, ("HTTP 503", "try again later")),
    ("not-leadlift", DataNotFoundError, ("holds no leadlift checkpoint", "model.safetensors")),
])
def test_error_lines(case: str, error: type[Exception], fragments: tuple[str, ...], fake_hub: FakeHub,
                     recon_i: LeadLift, tmp_path: Path) -> None:
    fake_hub.repos[("org/recon", "main")] = _repo_folder(recon_i.path, tmp_path / "remote")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "README.md").write_text("# some other model\n")
    fake_hub.repos[("org/plain", "main")] = tmp_path / "plain"
    fake_hub.gated.add("org/gated")
    repo, revision = {"missing": ("org/missing", None), "gated": ("org/gated", None), "revision": ("org/recon", "nope"),
                      "not-leadlift": ("org/plain", None)}.get(case, ("org/recon", None))
    if case in ("unauthorised", "server"):
        fake_hub.error = _hf_error(hf.HfHubHTTPError, 401 if case == "unauthorised" else 503)
    with pytest.raises(error) as exc:
        LeadLift.from_pretrained(repo, revision=revision, cache_dir=tmp_path / "cache")
    msg = one_line(exc)
    for f in fragments:
        assert f in msg, msg


def test_local_folders_and_bundled_names_never_touch_the_hub(recon_i: LeadLift, tmp_path: Path, monkeypatch) -> None:
    def refuse(*a: Any, **k: Any) -> None:
        raise AssertionError("the Hub was asked")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)
    assert LeadLift.from_pretrained("recon-i").path == recon_i.path
    local = _repo_folder(recon_i.path, tmp_path / "org" / "recon", extra=False)
    assert LeadLift.from_pretrained(local).path == local
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.md").write_text("not a checkpoint\n")
    with pytest.raises(DataNotFoundError, match="is not a leadlift checkpoint") as exc:
        LeadLift.from_pretrained(tmp_path / "empty")
    one_line(exc)


# --------------------------------------------------------------------------------------- save / push
@pytest.mark.parametrize("name", ["recon-i", "mae-cpu"])
def test_save_pretrained_round_trip(name: str, record: ECG, tmp_path: Path) -> None:
    lift = LeadLift.from_pretrained(name)
    folder = lift.save_pretrained(tmp_path / "saved")
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.yaml", "model.safetensors"]
    cfg = yaml.safe_load((folder / "config.yaml").read_text())
    assert cfg["weights_sha256"] == file_sha256(folder / "model.safetensors")
    assert cfg["evaluation"] == yaml.safe_load((lift.path / "config.yaml").read_text())["evaluation"]
    meta, body = split_front_matter((folder / "README.md").read_text())
    assert meta is not None and meta["license"] == "apache-2.0" and meta["library_name"] == "leadlift"
    assert "# Model card: `saved`" in body and "## Citation" in body
    again = LeadLift.from_pretrained(folder)
    _same_reconstruction(again, lift, record)
    if lift.kind == "mae":
        np.testing.assert_array_equal(again.embed(record, leads="I").pooled, lift.embed(record, leads="I").pooled)
    # saving over an existing checkpoint replaces it in place and leaves no temporary file behind
    lift.save_pretrained(folder, name="org/model")
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert 'LeadLift.from_pretrained("org/model")' in (folder / "README.md").read_text()


class FakeApi:
    """Records HfApi calls; ``upload_folder`` keeps a copy of the folder it was given."""

    instances: ClassVar[list[FakeApi]] = []
    fail: ClassVar[Exception | None] = None

    def __init__(self, token: Any = None, **kw: Any) -> None:
        self.token, self.calls, self.uploaded = token, [], {}
        FakeApi.instances.append(self)

    def create_repo(self, repo_id: str, **kw: Any) -> Any:
        self.calls.append(("create_repo", repo_id, kw))
        if FakeApi.fail is not None:
            raise FakeApi.fail
        return SimpleNamespace(repo_id=repo_id)

    def create_branch(self, repo_id: str, **kw: Any) -> None:
        self.calls.append(("create_branch", repo_id, kw))

    def upload_folder(self, *, repo_id: str, folder_path: Any, **kw: Any) -> Any:
        self.calls.append(("upload_folder", repo_id, kw))
        self.uploaded = {p.name: p.read_bytes() for p in Path(folder_path).iterdir()}
        return SimpleNamespace(commit_url=f"https://hub.test/{repo_id}/commit/abc")


def test_push_to_hub_uploads_the_saved_folder(fake_hub: FakeHub, recon_i: LeadLift, record: ECG, tmp_path: Path,
                                              monkeypatch) -> None:
    FakeApi.instances, FakeApi.fail = [], None
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    url = recon_i.push_to_hub("org/recon-i", token="hf_write", private=True, revision="v1",
                              commit_message="first upload")
    api = FakeApi.instances[-1]
    assert url == "https://hub.test/org/recon-i/commit/abc" and api.token == "hf_write"
    (name, repo, kw), branch, upload = api.calls
    assert (name, repo) == ("create_repo", "org/recon-i") and kw["private"] is True and kw["exist_ok"] is True
    assert branch[0] == "create_branch" and branch[2]["branch"] == "v1"
    assert upload[0] == "upload_folder" and upload[2]["revision"] == "v1"
    assert upload[2]["commit_message"] == "first upload"
    assert sorted(api.uploaded) == ["README.md", "config.yaml", "model.safetensors"]
    meta, _ = split_front_matter(api.uploaded["README.md"].decode())
    assert meta is not None and meta["library_name"] == "leadlift"
    # what was uploaded loads back from the (fake) Hub and gives the same reconstruction
    remote = tmp_path / "remote"
    remote.mkdir()
    for fname, data in api.uploaded.items():
        (remote / fname).write_bytes(data)
    fake_hub.repos[("org/recon-i", "v1")] = remote
    again = LeadLift.from_pretrained("org/recon-i", revision="v1", cache_dir=tmp_path / "cache")
    _same_reconstruction(again, recon_i, record)
    # no write access: one line saying what to do
    FakeApi.fail = _hf_error(hf.HfHubHTTPError, 403)
    with pytest.raises(DownloadError, match="write access") as exc:
        recon_i.push_to_hub("org/recon-i")
    assert "huggingface-cli login" in one_line(exc)
