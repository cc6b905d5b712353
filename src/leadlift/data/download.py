"""Fetch public PhysioNet databases, resumably and with checksum verification.

PhysioNet publishes every database version under ``{base_url}/{slug}/{version}/`` together with a
``SHA256SUMS.txt`` that lists ``<sha256> <relative path>`` for each file. :func:`download_dataset`
reads that list first and then fetches every listed file (or a chosen subset) into
``<data_dir>/<folder>/<path>``:

* each file is streamed to ``<file>.part``; an interrupted download is resumed with an HTTP
  ``Range`` request and the ``.part`` is moved onto the final name (``os.replace``, atomic) only
  after its SHA256 matched the published one, so a final file is always complete and verified;
* files already present with the right checksum are skipped; a small manifest
  (``.leadlift-verified.json``: path -> ``[size, mtime_ns, sha256]``) remembers what was verified so
  that later calls re-hash a file only when its size or modification time changed;
* connections are kept alive and reused (one per worker thread), which matters for PTB-XL and its
  ~44k small files;
* an unreachable server fails within seconds with a :class:`~leadlift.errors.DownloadError` that
  says how to get the data by other means;
* every file has an overall deadline (all attempts together, default 30 min, ``deadline=`` or
  ``$LEADLIFT_DOWNLOAD_DEADLINE``) and a stall limit (fewer than 1 KiB received in 60 s ends the
  download; ``stall_timeout=`` or ``$LEADLIFT_DOWNLOAD_STALL_TIMEOUT``), so a mirror that trickles
  a byte every few seconds cannot hang a download forever;
* the checksum list is streamed to disk and parsed line by line, and refused above 64 MiB
  (``max_list_bytes=`` or ``$LEADLIFT_MAX_CHECKSUM_LIST_MB``);
* a failed file leaves nothing behind: its ``.part`` and any temporary file are removed on every
  error (full disk, stall, checksum mismatch, HTTP error); only a killed process leaves a
  ``.part``, which the next call resumes;
* redirects are followed to ``http(s)`` URLs only (a ``file://`` or other scheme is refused).

The base URL defaults to ``https://physionet.org/files`` and can be overridden with the
``base_url`` argument or the ``LEADLIFT_PHYSIONET_URL`` environment variable (a mirror, or a local
test server). Proxies given by the usual ``https_proxy`` / ``http_proxy`` / ``no_proxy`` variables
are honoured.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fnmatch
import hashlib
import http.client
import json
import os
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from tqdm import tqdm

from leadlift import __version__
from leadlift.atomic import atomic_path
from leadlift.errors import CorruptFileError, DataNotFoundError, DownloadError, InputError

__all__ = [
    "BASE_URL_ENV",
    "CHECKSUM_FILE",
    "DEADLINE_ENV",
    "DEFAULT_BASE_URL",
    "MANIFEST_FILE",
    "MAX_LIST_ENV",
    "PHYSIONET_DATASETS",
    "STALL_ENV",
    "DownloadReport",
    "PhysioNetDataset",
    "dataset_root",
    "download_dataset",
    "get_dataset",
    "parse_sha256sums",
    "read_sha256sums",
    "resolve_base_url",
    "sha256_file",
    "verify_dataset",
]

DEFAULT_BASE_URL = "https://physionet.org/files"
"""Where PhysioNet serves the files of each database version."""

BASE_URL_ENV = "LEADLIFT_PHYSIONET_URL"
"""Environment variable that overrides :data:`DEFAULT_BASE_URL` (mirrors, local test servers)."""

DEADLINE_ENV = "LEADLIFT_DOWNLOAD_DEADLINE"
"""Environment variable: seconds one file may take, all attempts together (0 = no limit)."""

STALL_ENV = "LEADLIFT_DOWNLOAD_STALL_TIMEOUT"
"""Environment variable: seconds in which fewer than 1 KiB arriving ends a download (0 = no limit)."""

MAX_LIST_ENV = "LEADLIFT_MAX_CHECKSUM_LIST_MB"
"""Environment variable: largest checksum list accepted, in MiB."""

DEFAULT_DEADLINE_S = 1800.0
DEFAULT_STALL_S = 60.0
DEFAULT_MAX_LIST_BYTES = 64 * 1024 * 1024

CHECKSUM_FILE = "SHA256SUMS.txt"
MANIFEST_FILE = ".leadlift-verified.json"
PART_SUFFIX = ".part"

_CHUNK = 256 * 1024
_STALL_MIN_BYTES = 1024
_HASH_CHUNK = 1024 * 1024
_MAX_CONNECT_TIMEOUT = 5.0
_MAX_REDIRECTS = 5
_MAX_BACKOFF = 8.0
_MANIFEST_SAVE_EVERY = 2000
_MANIFEST_SAVE_SECONDS = 30.0
_USER_AGENT = f"leadlift/{__version__} (python http.client)"


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhysioNetDataset:
    """A PhysioNet database version that :func:`download_dataset` knows how to fetch.

    Attributes:
        name: leadlift's short name (``ptbxl``), used on the command line.
        slug: PhysioNet's project slug (``ptb-xl``), part of the URL.
        version: the published version (``1.0.3``), part of the URL.
        folder: the folder created inside the data directory (``ptb-xl``).
        description: one line about the contents.
        approx_size: human-readable size of the full download.
        title: the database's name as PhysioNet writes it (``PTB-XL``).
    """

    name: str
    slug: str
    version: str
    folder: str
    description: str
    approx_size: str
    title: str = ""

    @property
    def label(self) -> str:
        """Title and version, e.g. ``PTB-XL 1.0.3``."""
        return f"{self.title or self.slug} {self.version}"

    @property
    def landing_url(self) -> str:
        """The database's page on PhysioNet (licence, citation, zip download)."""
        return f"https://physionet.org/content/{self.slug}/{self.version}/"

    def files_url(self, base_url: str | None = None) -> str:
        """URL of the folder that holds this version's files (no trailing slash)."""
        return f"{resolve_base_url(base_url)}/{self.slug}/{self.version}"


PHYSIONET_DATASETS: dict[str, PhysioNetDataset] = {
    "ptbxl": PhysioNetDataset(
        name="ptbxl",
        slug="ptb-xl",
        version="1.0.3",
        folder="ptb-xl",
        description="21,799 clinical 12-lead ECGs (10 s, 100 and 500 Hz) with SCP-ECG statements",
        approx_size="~3 GB (~44,000 files)",
        title="PTB-XL",
    ),
    "ptbdb": PhysioNetDataset(
        name="ptbdb",
        slug="ptbdb",
        version="1.0.0",
        folder="ptbdb",
        description="PTB Diagnostic ECG Database: 549 records of 290 subjects, 15 leads at 1 kHz",
        approx_size="~1.7 GB",
        title="PTB Diagnostic ECG Database",
    ),
    "ecgid": PhysioNetDataset(
        name="ecgid",
        slug="ecgiddb",
        version="1.0.0",
        folder="ecgiddb",
        description="ECG-ID Database: 310 lead-I records (20 s, 500 Hz) of 90 persons",
        approx_size="~13 MB",
        title="ECG-ID",
    ),
}
"""The databases leadlift can download, by short name."""


def get_dataset(name: str) -> PhysioNetDataset:
    """Look a dataset up by short name, PhysioNet slug or folder name (case-insensitive).

    Raises:
        InputError: the name is unknown.
    """
    key = name.strip().lower()
    if key in PHYSIONET_DATASETS:
        return PHYSIONET_DATASETS[key]
    for ds in PHYSIONET_DATASETS.values():
        if key in (ds.slug, ds.folder):
            return ds
    known = ", ".join(PHYSIONET_DATASETS)
    raise InputError(f"unknown dataset {name!r}; choose one of: {known}")


def resolve_base_url(base_url: str | None = None) -> str:
    """The base URL to use: the argument, else ``$LEADLIFT_PHYSIONET_URL``, else PhysioNet.

    Raises:
        InputError: the URL is not an ``http://`` or ``https://`` URL.
    """
    url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    url = url.strip().rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            f"invalid PhysioNet base URL {url!r}; give an http(s) URL such as {DEFAULT_BASE_URL} "
            f"(argument or {BASE_URL_ENV})"
        )
    return url


def dataset_root(name: str, data_dir: str | os.PathLike[str]) -> Path:
    """The folder that holds (or will hold) a dataset inside ``data_dir``."""
    return Path(data_dir) / get_dataset(name).folder


# --------------------------------------------------------------------------------------------
# Checksums and the verified-manifest
# --------------------------------------------------------------------------------------------


def parse_sha256sums(text: str | Iterable[str], source: str = CHECKSUM_FILE) -> dict[str, str]:
    """Parse ``<sha256hex> <relative path>`` lines into ``{path: sha256}`` (file order kept).

    ``text`` is the whole list or an iterable of its lines (an open file: read one line at a
    time). Blank lines are ignored; a ``*`` in front of the path (binary-mode marker of
    ``sha256sum``) is dropped. Paths that are absolute or climb out of the dataset folder are
    refused.

    Raises:
        CorruptFileError: a line is malformed or names an unsafe path.
    """
    entries: dict[str, str] = {}
    lines = text.splitlines() if isinstance(text, str) else text
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        fields = line.split(maxsplit=1)
        digest = fields[0].lower()
        if len(fields) != 2 or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise CorruptFileError(
                f"{source} line {lineno} is not '<sha256> <path>' ({line[:60]!r}); "
                "the checksum list is damaged, download it again"
            )
        path = fields[1].strip()
        path = path.removeprefix("*").removeprefix("./")
        pure = PurePosixPath(path)
        if not path or pure.is_absolute() or ".." in pure.parts or "\\" in path:
            raise CorruptFileError(
                f"{source} line {lineno} names an unsafe path {path!r}; refusing to write outside "
                "the dataset folder, check the server or mirror you download from"
            )
        entries[pure.as_posix()] = digest
    return entries


def _max_list_bytes(value: int | None) -> int:
    """The checksum-list size cap: ``value``, else ``$LEADLIFT_MAX_CHECKSUM_LIST_MB``, else 64 MiB."""
    if value is not None:
        if value <= 0:
            raise InputError(f"max_list_bytes={value} must be positive")
        return int(value)
    raw = os.environ.get(MAX_LIST_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_LIST_BYTES
    try:
        mb = float(raw)
    except ValueError:
        mb = -1.0
    if not mb > 0 or mb == float("inf"):
        raise InputError(f"{MAX_LIST_ENV}={raw!r} is not a positive size in MiB; set it to e.g. 256 or unset it")
    return int(mb * 1024 * 1024)


def _list_too_large(source: str, size: int | str, cap: int) -> CorruptFileError:
    return CorruptFileError(
        f"{source} is {size} bytes, more than the {round(cap / 1024 / 1024, 3):g} MiB a checksum list may have; "
        f"the server or mirror sends something else — check it, or if the list is right raise the "
        f"limit with {MAX_LIST_ENV}=MB"
    )


def read_sha256sums(path: str | os.PathLike[str], max_bytes: int | None = None) -> dict[str, str]:
    """Parse a saved checksum list line by line (never read whole), refusing one above the size cap.

    Args:
        path: the ``SHA256SUMS.txt`` file.
        max_bytes: size cap (default ``$LEADLIFT_MAX_CHECKSUM_LIST_MB`` or 64 MiB).

    Raises:
        CorruptFileError: the file is larger than the cap, or a line is malformed or unsafe.
    """
    cap = _max_list_bytes(max_bytes)
    size = os.stat(path).st_size
    if size > cap:
        raise _list_too_large(str(path), size, cap)
    with open(path, encoding="utf-8", errors="replace", newline=None) as fh:
        return parse_sha256sums(fh, str(path))


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA256 hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_HASH_CHUNK):
            h.update(block)
    return h.hexdigest()


_ManifestEntry = tuple[int, int, str]


def _load_manifest(root: Path) -> dict[str, _ManifestEntry]:
    """Read ``.leadlift-verified.json``; a missing or unreadable manifest is treated as empty."""
    try:
        raw = json.loads((root / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out: dict[str, _ManifestEntry] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            if (
                isinstance(value, list)
                and len(value) == 3
                and isinstance(value[0], int)
                and isinstance(value[1], int)
                and isinstance(value[2], str)
            ):
                out[key] = (value[0], value[1], value[2])
    return out


def _save_manifest(root: Path, manifest: dict[str, _ManifestEntry]) -> None:
    """Write the manifest atomically (temp file + ``os.replace``); failures are ignored.

    The manifest is only a cache: if it cannot be written (read-only data folder) the next call
    simply re-hashes the files.
    """
    payload = {key: list(value) for key, value in sorted(manifest.items())}
    with contextlib.suppress(OSError), atomic_path(root / MANIFEST_FILE) as tmp:
        tmp.write_text(json.dumps(payload, separators=(",", ":")), encoding="utf-8")


def _check_present(
    path: Path, expected: str, cached: _ManifestEntry | None
) -> tuple[bool, _ManifestEntry | None]:
    """Whether ``path`` exists with the expected checksum, trusting ``cached`` if still current.

    Returns ``(ok, entry)`` where ``entry`` is the manifest entry to store (``None`` when the file is
    absent or wrong).
    """
    try:
        st = path.stat()
    except OSError:
        return False, None
    if cached is not None and cached == (st.st_size, st.st_mtime_ns, expected):
        return True, cached
    if sha256_file(path) != expected:
        return False, None
    return True, (st.st_size, st.st_mtime_ns, expected)


def _select(entries: dict[str, str], files: Sequence[str] | None, ds: PhysioNetDataset) -> dict[str, str]:
    """Restrict ``entries`` to the paths matched by ``files`` (exact paths, folders or globs).

    Raises:
        DataNotFoundError: a pattern matches no listed file.
    """
    if files is None:
        return dict(entries)
    if isinstance(files, str):
        files = [files]
    chosen: set[str] = set()
    for spec in files:
        pattern = spec.strip().replace("\\", "/").removeprefix("./").rstrip("/")
        hits = [
            p for p in entries
            if p == pattern or p.startswith(pattern + "/") or fnmatch.fnmatchcase(p, pattern)
        ]
        if not hits:
            example = next(iter(entries), "RECORDS")
            raise DataNotFoundError(
                f"no file of {ds.label} matches {spec!r} in its {CHECKSUM_FILE}; give paths or glob "
                f"patterns relative to the dataset folder, e.g. {example!r}"
            )
        chosen.update(hits)
    return {p: d for p, d in entries.items() if p in chosen}


# --------------------------------------------------------------------------------------------
# HTTP: persistent connections, one per thread and host
# --------------------------------------------------------------------------------------------


_NETWORK_ERRNOS = frozenset(
    getattr(errno, n) for n in (
        "ENETUNREACH", "EHOSTUNREACH", "ENETDOWN", "EHOSTDOWN", "ECONNREFUSED", "ECONNRESET",
        "ECONNABORTED", "ETIMEDOUT", "EPIPE",
    ) if hasattr(errno, n)
)


def _is_network_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from the network (as opposed to the local file system)."""
    network_types = (socket.gaierror, ConnectionError, TimeoutError, ssl.SSLError, http.client.HTTPException)
    if isinstance(exc, network_types):
        return True
    return isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS


def _local_io_error(path: Path, exc: OSError) -> DownloadError:
    """A local file-system failure (disk full, permissions...) as a one-line DownloadError."""
    where = Path(exc.filename) if exc.filename else path
    return DownloadError(
        f"cannot write or read {where} ({exc.strerror or exc}); free some disk space or choose a "
        "writable folder with --data-dir or LEADLIFT_DATA"
    )


class _RetryableHTTPError(Exception):
    """A server-side hiccup (HTTP 429/5xx, short body) worth retrying."""


class _Cancelled(Exception):
    """Another worker failed; this one stops."""


def _resolve_host(host: str, port: int, timeout: float) -> None:
    """Resolve ``host`` in a helper thread so a dead DNS server cannot block for minutes."""
    outcome: dict[str, BaseException] = {}

    def lookup() -> None:
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=lookup, name=f"leadlift-dns-{host}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"DNS lookup of {host} timed out after {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]


@dataclass
class _Conn:
    conn: http.client.HTTPConnection
    absolute_form: bool  # plain-HTTP proxy: request target is the full URL
    headers: dict[str, str]


class _HttpClient:
    """Minimal HTTP/1.1 GET client with keep-alive, redirects, proxies and split timeouts.

    Each thread gets its own connection per ``(scheme, host, port)``, so the client can be shared
    by the workers of a thread pool. ``connect_timeout`` bounds connecting (and DNS); ``read_timeout``
    bounds each socket read afterwards.
    """

    def __init__(self, connect_timeout: float, read_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[http.client.HTTPConnection] = []
        self._resolved: set[str] = set()
        self._proxies = urllib.request.getproxies()
        self._ssl: ssl.SSLContext | None = None

    # -- connections -----------------------------------------------------------------------

    def _pool(self) -> dict[tuple[str, str, int], _Conn]:
        pool = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        return pool

    def _proxy_for(self, scheme: str, host: str) -> str | None:
        proxy = self._proxies.get(scheme)
        if not proxy:
            return None
        try:
            if urllib.request.proxy_bypass(host):
                return None
        except OSError:
            pass
        return proxy if "://" in proxy else f"http://{proxy}"

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    def _open(self, scheme: str, host: str, port: int) -> _Conn:
        headers: dict[str, str] = {}
        absolute = False
        proxy = self._proxy_for(scheme, host)
        if proxy:
            p = urllib.parse.urlsplit(proxy)
            connect_host, connect_port = p.hostname or "", p.port or 80
            if p.username:
                token = f"{urllib.parse.unquote(p.username)}:{urllib.parse.unquote(p.password or '')}"
                headers["Proxy-Authorization"] = "Basic " + base64.b64encode(token.encode()).decode()
            conn: http.client.HTTPConnection
            if scheme == "https":
                conn = http.client.HTTPSConnection(
                    connect_host, connect_port, timeout=self.connect_timeout, context=self._ssl_context()
                )
                conn.set_tunnel(host, port, headers=dict(headers))
                headers = {}
            else:
                conn = http.client.HTTPConnection(connect_host, connect_port, timeout=self.connect_timeout)
                absolute = True
        else:
            connect_host, connect_port = host, port
            if scheme == "https":
                conn = http.client.HTTPSConnection(
                    host, port, timeout=self.connect_timeout, context=self._ssl_context()
                )
            else:
                conn = http.client.HTTPConnection(host, port, timeout=self.connect_timeout)
        if connect_host not in self._resolved:
            _resolve_host(connect_host, connect_port, self.connect_timeout)
            self._resolved.add(connect_host)
        conn.connect()
        assert conn.sock is not None
        conn.sock.settimeout(self.read_timeout)
        with self._lock:
            self._all.append(conn)
        return _Conn(conn, absolute, headers)

    def _get_conn(self, key: tuple[str, str, int]) -> tuple[_Conn, bool]:
        pool = self._pool()
        entry = pool.get(key)
        if entry is not None and entry.conn.sock is not None:
            return entry, False
        if entry is not None:
            entry.conn.close()
        entry = pool[key] = self._open(*key)
        return entry, True

    def _drop(self, key: tuple[str, str, int]) -> None:
        entry = self._pool().pop(key, None)
        if entry is not None:
            entry.conn.close()

    def close(self) -> None:
        """Close every connection opened by any thread."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()

    # -- requests --------------------------------------------------------------------------

    def _send(
        self, url: str, headers: dict[str, str]
    ) -> tuple[http.client.HTTPResponse, tuple[str, str, int]]:
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        key = (scheme, host, port)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        all_headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity", **headers}
        while True:
            entry, fresh = self._get_conn(key)
            try:
                entry.conn.request(
                    "GET", url if entry.absolute_form else target, headers={**all_headers, **entry.headers}
                )
                self._local.sock = entry.conn.sock
                return entry.conn.getresponse(), key
            except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, http.client.BadStatusLine):
                self._drop(key)
                if fresh:
                    raise
                # a kept-alive connection the server had already closed: reconnect once
            except BaseException:
                self._drop(key)
                raise

    def current_socket(self) -> socket.socket | None:
        """The socket of this thread's last request (to adjust its timeout while reading a body)."""
        return getattr(self._local, "sock", None)

    @contextlib.contextmanager
    def get(self, url: str, headers: dict[str, str] | None = None) -> Iterator[http.client.HTTPResponse]:
        """GET ``url`` (following redirects to http(s) URLs only) and yield the response.

        The connection is kept for reuse when the body was read to the end, and closed otherwise.

        Raises:
            DownloadError: a redirect to another scheme (``file://``, ``ftp://``...) or too many.
        """
        current = url
        for _ in range(_MAX_REDIRECTS + 1):
            resp, key = self._send(current, dict(headers or {}))
            location = resp.getheader("Location")
            if resp.status in (301, 302, 303, 307, 308) and location:
                try:
                    resp.read()
                except (OSError, http.client.HTTPException):
                    resp.close()
                    self._drop(key)
                target = urllib.parse.urljoin(current, location)
                parts = urllib.parse.urlsplit(target)
                if parts.scheme not in ("http", "https") or not parts.hostname:
                    shown = target if len(target) <= 80 else target[:77] + "..."
                    raise DownloadError(
                        f"{current} redirects to {shown!r}; leadlift follows redirects to http(s) URLs "
                        f"only — check the mirror (--base-url or {BASE_URL_ENV})"
                    )
                current = target
                continue
            complete = False
            try:
                yield resp
                complete = resp.isclosed()
            finally:
                if not complete:
                    resp.close()
                    self._drop(key)
            return
        raise DownloadError(f"too many redirects for {url}; check the base URL ({BASE_URL_ENV})")


# --------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadReport:
    """What :func:`download_dataset` did.

    Attributes:
        dataset: short name of the dataset.
        root: the dataset folder (``<data_dir>/<folder>``).
        fetched: paths downloaded (and verified) in this call.
        skipped: paths already present with the right checksum.
        bytes_downloaded: bytes of file bodies received from the server in this call.
    """

    dataset: str
    root: Path
    fetched: tuple[str, ...]
    skipped: tuple[str, ...]
    bytes_downloaded: int

    def __str__(self) -> str:
        return self.summary()

    def summary(self) -> str:
        """One line for people (also what ``str(report)`` gives)."""
        return (
            f"{len(self.fetched)} file(s) downloaded "
            f"({self.bytes_downloaded / 1e6:.1f} MB), {len(self.skipped)} already verified, in {self.root}"
        )


def _reason(exc: BaseException, host: str) -> str:
    """Short one-line reason for a network failure."""
    if isinstance(exc, socket.gaierror):
        text = f"cannot resolve {host}: {exc.strerror or exc}"
    elif isinstance(exc, ConnectionRefusedError):
        text = "connection refused"
    elif isinstance(exc, TimeoutError):
        text = str(exc) or "timed out"
    elif isinstance(exc, ssl.SSLError):
        text = f"TLS error: {exc}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def _limit(value: float | None, env: str, default: float, arg: str) -> float:
    """A time limit in seconds: ``value``, else ``$env``, else ``default``; 0 means no limit."""
    source = f"{arg}={value!r}"
    if value is None:
        raw = os.environ.get(env, "").strip()
        if not raw:
            return default
        source = f"{env}={raw!r}"
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
    if not (value >= 0 and value != float("inf")):
        raise InputError(f"{source} is not a number of seconds >= 0 (0 turns the limit off); set e.g. "
                         f"{env}={default:g}")
    return float(value)


@dataclass(frozen=True)
class _Limits:
    """Per-file time limits (0 = off): ``deadline`` for all attempts together, ``stall`` for
    receiving fewer than :data:`_STALL_MIN_BYTES` bytes."""

    deadline: float
    stall: float


class _LimitExceeded(DownloadError):
    """A file took longer than its deadline or stalled (never retried)."""


def _stream(
    resp: http.client.HTTPResponse,
    sock: socket.socket | None,
    sink: Callable[[bytes], None],
    *,
    url: str,
    limits: _Limits,
    deadline_at: float | None,
    read_timeout: float,
    cancelled: Callable[[], bool] = lambda: False,
) -> int:
    """Read ``resp``'s body into ``sink`` chunk by chunk under the deadline and the stall limit.

    Each socket read waits at most until the read timeout, the deadline or the end of the stall
    window, whichever comes first, so a server that trickles bytes cannot hold a download longer
    than the limits. Returns the number of bytes read.

    Raises:
        _LimitExceeded: the deadline passed or the stall limit was hit (one line naming the URL
            and the setting that raises the limit).
    """
    received = 0
    mark_t, mark_n = time.monotonic(), 0

    def check(now: float, slack: float = 0.0) -> None:
        if deadline_at is not None and now >= deadline_at - slack:
            raise _LimitExceeded(
                f"{url}: not complete after the {limits.deadline:g} s allowed per file ({received} bytes "
                f"received); the server or network is too slow — try again later or another mirror "
                f"(--base-url), or raise the limit with {DEADLINE_ENV}=SECONDS (0 = none)"
            )
        if limits.stall and now - mark_t >= limits.stall - slack:
            raise _LimitExceeded(
                f"{url}: stalled — fewer than {_STALL_MIN_BYTES} bytes in {limits.stall:g} s ({received} "
                f"bytes received); the server or network is hanging — try again later or another mirror "
                f"(--base-url), or raise the limit with {STALL_ENV}=SECONDS (0 = none)"
            )

    try:
        while True:
            if cancelled():
                raise _Cancelled
            now = time.monotonic()
            check(now)
            wait_s = read_timeout
            if deadline_at is not None:
                wait_s = min(wait_s, deadline_at - now)
            if limits.stall:
                wait_s = min(wait_s, mark_t + limits.stall - now)
            if sock is not None:
                sock.settimeout(max(0.01, wait_s))
            try:
                chunk = resp.read1(_CHUNK)
            except TimeoutError:
                check(time.monotonic(), slack=0.02)
                raise
            if not chunk:
                resp.read()  # nothing left: lets the response close cleanly (connection kept alive)
                return received
            sink(chunk)
            received += len(chunk)
            if received - mark_n >= _STALL_MIN_BYTES:
                mark_t, mark_n = time.monotonic(), received
    finally:
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.settimeout(read_timeout)


class _Downloader:
    """Shared state of one :func:`download_dataset` call."""

    def __init__(
        self,
        ds: PhysioNetDataset,
        root: Path,
        base_url: str,
        client: _HttpClient,
        bar: Any,
        retries: int,
        limits: _Limits = _Limits(DEFAULT_DEADLINE_S, DEFAULT_STALL_S),
    ) -> None:
        self.limits = limits
        self.ds = ds
        self.root = root
        self.base_url = base_url
        self.files_url = ds.files_url(base_url)
        self.client = client
        self.bar = bar
        self.retries = max(0, retries)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.received = 0

    # -- messages --------------------------------------------------------------------------

    def url_of(self, rel: str) -> str:
        return f"{self.files_url}/{urllib.parse.quote(rel)}"

    def unreachable(self, exc: BaseException) -> DownloadError:
        host = urllib.parse.urlsplit(self.base_url).hostname or self.base_url
        return DownloadError(
            f"cannot reach {self.base_url} ({_reason(exc, host)}); no network? Download {self.ds.label} "
            f"elsewhere ({self.ds.landing_url}) and point leadlift at the folder that contains "
            f"`{self.ds.folder}/` with --data-dir or LEADLIFT_DATA"
        )

    def http_error(self, url: str, resp: http.client.HTTPResponse) -> DownloadError:
        if resp.status in (404, 410):
            return DownloadError(
                f"{url} not found (HTTP {resp.status}); check that {self.ds.label} is published there "
                f"({self.ds.landing_url}) or set another base URL with {BASE_URL_ENV}"
            )
        return DownloadError(
            f"{url} answered HTTP {resp.status} {resp.reason}; try again later or download "
            f"{self.ds.label} from {self.ds.landing_url} by other means"
        )

    # -- small files -----------------------------------------------------------------------

    def deadline_at(self) -> float | None:
        return time.monotonic() + self.limits.deadline if self.limits.deadline else None

    def fetch_list(self, rel: str, dest: Path, max_bytes: int) -> None:
        """GET the checksum list into ``dest``, streamed, refused above ``max_bytes``.

        Network errors fail at once (the caller removes ``dest`` on any error).
        """
        url = self.url_of(rel)
        deadline_at = self.deadline_at()
        for attempt in range(self.retries + 1):
            try:
                with self.client.get(url) as resp:
                    if resp.status == 200:
                        length = resp.getheader("Content-Length") or ""
                        if length.isdigit() and int(length) > max_bytes:
                            raise _list_too_large(url, int(length), max_bytes)
                        with open(dest, "wb") as out:
                            size = 0

                            def sink(chunk: bytes) -> None:
                                nonlocal size
                                size += len(chunk)
                                if size > max_bytes:
                                    raise _list_too_large(url, f"more than {max_bytes}", max_bytes)
                                out.write(chunk)

                            _stream(resp, self.client.current_socket(), sink, url=url, limits=self.limits,
                                    deadline_at=deadline_at, read_timeout=self.client.read_timeout)
                        return
                    resp.read()
                    if resp.status == 429 or resp.status >= 500:
                        if attempt < self.retries:
                            time.sleep(min(_MAX_BACKOFF, 2.0**attempt))
                            continue
                    raise self.http_error(url, resp)
            except (DownloadError, CorruptFileError):
                raise
            except (OSError, http.client.HTTPException) as exc:
                if isinstance(exc, OSError) and not _is_network_error(exc):
                    raise _local_io_error(dest, exc) from exc
                raise self.unreachable(exc) from exc
        raise AssertionError("not reached")  # pragma: no cover

    # -- data files ------------------------------------------------------------------------

    def handle(
        self, rel: str, expected: str, cached: _ManifestEntry | None
    ) -> tuple[str, bool, _ManifestEntry]:
        """Skip ``rel`` if already verified, else download it. Returns ``(rel, fetched, entry)``."""
        if self.stop.is_set():
            raise _Cancelled
        final = self.root / rel
        try:
            ok, entry = _check_present(final, expected, cached)
            if ok and entry is not None:  # entry is always set when ok
                return rel, False, entry
            self.fetch(rel, expected, final)
            st = final.stat()
        except (DownloadError, CorruptFileError):
            raise
        except OSError as exc:  # network errors were already turned into DownloadError
            raise _local_io_error(final, exc) from exc
        return rel, True, (st.st_size, st.st_mtime_ns, expected)

    def fetch(self, rel: str, expected: str, final: Path) -> None:
        """Download ``rel`` to ``final`` via ``final.part`` with resume, verification and retries.

        On any error the ``.part`` is removed (nothing partial is left); only a killed process
        leaves one, which the next call resumes.
        """
        part = final.with_name(final.name + PART_SUFFIX)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._fetch(rel, expected, final, part)
        except BaseException:
            with contextlib.suppress(OSError):
                part.unlink()
            raise

    def _fetch(self, rel: str, expected: str, final: Path, part: Path) -> None:
        url = self.url_of(rel)
        with self.lock:
            self.bar.set_description_str(f"{self.ds.folder} {rel}", refresh=False)
        attempts = self.retries + 1
        last_digest = ""
        deadline_at = self.deadline_at()
        for attempt in range(attempts):
            if attempt:
                # after a corrupt body the .part is gone; after a network error it is resumed
                pause = min(_MAX_BACKOFF, 0.5 * 2.0 ** (attempt - 1))
                if deadline_at is not None:
                    pause = max(0.0, min(pause, deadline_at - time.monotonic()))
                if self.stop.wait(pause):
                    raise _Cancelled
            try:
                digest = self.attempt(url, part, deadline_at)
            except _RetryableHTTPError as exc:
                if attempt + 1 >= attempts:
                    raise DownloadError(
                        f"{url}: {exc} after {attempts} attempt(s); try again later or download "
                        f"{self.ds.label} from {self.ds.landing_url} by other means"
                    ) from exc
                continue
            except (DownloadError, CorruptFileError, _Cancelled):
                raise
            except (OSError, http.client.HTTPException) as exc:
                if isinstance(exc, OSError) and not _is_network_error(exc):
                    raise _local_io_error(part, exc) from exc
                if attempt + 1 >= attempts:
                    raise self.unreachable(exc) from exc
                continue
            if digest == expected:
                os.replace(part, final)
                return
            last_digest = digest
            with contextlib.suppress(OSError):
                part.unlink()
        raise CorruptFileError(
            f"{rel}: SHA256 mismatch after {attempts} attempt(s) (expected {expected[:12]}…, got "
            f"{last_digest[:12]}…) from {url}; the copy on the server or in transit is damaged, try "
            f"again later or get {self.ds.label} from {self.ds.landing_url} by other means"
        )

    def attempt(self, url: str, part: Path, deadline_at: float | None = None) -> str:
        """One GET of ``url`` into ``part`` (resuming it if present). Returns the SHA256 of ``part``."""
        try:
            offset = part.stat().st_size
        except OSError:
            offset = 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        with self.client.get(url, headers) as resp:
            status = resp.status
            if status == 416 and offset:
                # the .part is already complete (or longer than the file): judge it as it is
                resp.read()
                return sha256_file(part)
            if status == 429 or status >= 500:
                resp.read()
                raise _RetryableHTTPError(f"HTTP {status} {resp.reason}")
            if status not in (200, 206):
                raise self.http_error(url, resp)
            hasher = hashlib.sha256()
            if status == 206 and offset and self._range_start(resp) == offset:
                with open(part, "rb") as fh:
                    while block := fh.read(_HASH_CHUNK):
                        hasher.update(block)
                mode = "ab"
            elif status == 206:
                # not the range asked for: forget the .part and start over on the next attempt
                with contextlib.suppress(OSError):
                    part.unlink()
                raise _RetryableHTTPError("unexpected partial content (Content-Range does not match)")
            else:
                mode = "wb"  # 200: the server sent the whole file, start over
            length_header = resp.getheader("Content-Length")
            length = int(length_header) if length_header and length_header.isdigit() else None
            if length is not None:
                with self.lock:
                    self.bar.total = (self.bar.total or 0) + length
            with open(part, mode) as out:

                def sink(chunk: bytes) -> None:
                    out.write(chunk)
                    hasher.update(chunk)
                    with self.lock:
                        self.received += len(chunk)
                        self.bar.update(len(chunk))

                received = _stream(resp, self.client.current_socket(), sink, url=url, limits=self.limits,
                                   deadline_at=deadline_at, read_timeout=self.client.read_timeout,
                                   cancelled=self.stop.is_set)
            if length is not None and received != length:
                raise _RetryableHTTPError(f"connection closed after {received} of {length} bytes")
            return hasher.hexdigest()

    @staticmethod
    def _range_start(resp: http.client.HTTPResponse) -> int | None:
        value = resp.getheader("Content-Range") or ""
        unit, _, spec = value.partition(" ")
        if unit.strip().lower() != "bytes":
            return None
        start = spec.split("-", 1)[0].strip()
        return int(start) if start.isdigit() else None


def download_dataset(
    name: str,
    data_dir: str | os.PathLike[str],
    base_url: str | None = None,
    files: Sequence[str] | None = None,
    progress: bool = True,
    timeout: float = 10.0,
    retries: int = 3,
    *,
    workers: int = 4,
    deadline: float | None = None,
    stall_timeout: float | None = None,
    max_list_bytes: int | None = None,
) -> DownloadReport:
    """Download a PhysioNet database (or part of it) into ``data_dir/<folder>/``, verified.

    ``SHA256SUMS.txt`` is fetched first and saved in the dataset folder; then every listed file
    (or those matched by ``files``) is downloaded unless already present with the right checksum.
    Safe to interrupt and call again: partial files are resumed.

    Args:
        name: short name (``ptbxl``, ``ptbdb``, ``ecgid``), PhysioNet slug or folder name.
        data_dir: the data directory; the dataset goes into ``data_dir / dataset.folder``.
        base_url: where the files are served; default ``$LEADLIFT_PHYSIONET_URL`` or
            ``https://physionet.org/files``.
        files: optional subset: paths relative to the dataset folder, folders (everything below),
            or ``fnmatch`` glob patterns (``*`` also crosses ``/``). ``None`` means every file; an
            empty sequence fetches only the checksum list.
        progress: show one tqdm bar over the bytes downloaded.
        timeout: seconds a socket read may stall; connecting (DNS included) is limited to
            ``min(timeout, 5)`` seconds so that an offline machine fails fast.
        retries: extra attempts per file after a checksum mismatch, an HTTP 429/5xx or a dropped
            connection (which resumes where it stopped).
        workers: number of parallel downloads.
        deadline: seconds one file may take, all its attempts together (default
            ``$LEADLIFT_DOWNLOAD_DEADLINE`` or 1800; 0 = no limit).
        stall_timeout: a download that receives fewer than 1 KiB in this many seconds ends with
            an error (default ``$LEADLIFT_DOWNLOAD_STALL_TIMEOUT`` or 60; 0 = no limit).
        max_list_bytes: largest checksum list accepted (default ``$LEADLIFT_MAX_CHECKSUM_LIST_MB``
            MiB or 64 MiB).

    Returns:
        A :class:`DownloadReport`.

    Raises:
        DownloadError: the server cannot be reached, answers an HTTP error (404 names the URL),
            redirects to a non-http(s) URL, or a file passes its deadline or stalls.
        CorruptFileError: a file still fails its checksum after ``retries`` retries (no final file
            is left behind), or the checksum list is malformed or larger than the cap.
        DataNotFoundError: a pattern of ``files`` matches nothing.
        InputError: unknown dataset or invalid base URL.
    """
    ds = get_dataset(name)
    base = resolve_base_url(base_url)
    limits = _Limits(_limit(deadline, DEADLINE_ENV, DEFAULT_DEADLINE_S, "deadline"),
                     _limit(stall_timeout, STALL_ENV, DEFAULT_STALL_S, "stall_timeout"))
    list_cap = _max_list_bytes(max_list_bytes)
    root = Path(data_dir) / ds.folder
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"cannot create {root} ({exc.strerror or exc}); choose a writable folder with --data-dir "
            "or LEADLIFT_DATA"
        ) from exc

    client = _HttpClient(connect_timeout=min(timeout, _MAX_CONNECT_TIMEOUT), read_timeout=timeout)
    dl = _Downloader(ds, root, base, client, tqdm(disable=True), retries, limits)
    fetched: list[str] = []
    skipped: list[str] = []
    try:
        # streamed to a temporary file, parsed line by line, published only when valid; the
        # temporary file is removed on every error (atomic_path)
        source = f"{dl.files_url}/{CHECKSUM_FILE}"
        try:
            with atomic_path(root / CHECKSUM_FILE) as tmp:
                dl.fetch_list(CHECKSUM_FILE, tmp, list_cap)
                with open(tmp, encoding="utf-8", errors="replace") as fh:
                    entries = parse_sha256sums(fh, source)
        except (DownloadError, CorruptFileError):
            raise
        except OSError as exc:
            raise _local_io_error(root / CHECKSUM_FILE, exc) from exc
        entries.pop(CHECKSUM_FILE, None)
        selected = _select(entries, files, ds)
        manifest = {k: v for k, v in _load_manifest(root).items() if k in entries}
        # the bar appears only once the server answered (no empty bar before an error message)
        dl.bar = tqdm(
            total=None,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=ds.folder,
            disable=not progress,
            dynamic_ncols=True,
        )
        _run_jobs(dl, selected, manifest, max(1, workers), fetched, skipped)
    finally:
        dl.bar.close()
        client.close()
    order = {p: i for i, p in enumerate(selected)}
    return DownloadReport(
        dataset=ds.name,
        root=root,
        fetched=tuple(sorted(fetched, key=order.__getitem__)),
        skipped=tuple(sorted(skipped, key=order.__getitem__)),
        bytes_downloaded=dl.received,
    )


def _run_jobs(
    dl: _Downloader,
    selected: dict[str, str],
    manifest: dict[str, _ManifestEntry],
    workers: int,
    fetched: list[str],
    skipped: list[str],
) -> None:
    """Run :meth:`_Downloader.handle` over ``selected`` in a thread pool, updating ``manifest``."""
    total = len(selected)
    last_save = time.monotonic()
    unsaved = 0
    pending: set[Future[tuple[str, bool, _ManifestEntry]]] = set()
    jobs = iter(selected.items())
    error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="leadlift-dl") as pool:
        try:
            while True:
                # keep a bounded number of jobs in flight (44k futures at once would be wasteful)
                while len(pending) < 4 * workers and error is None:
                    job = next(jobs, None)
                    if job is None:
                        break
                    rel, digest = job
                    pending.add(pool.submit(dl.handle, rel, digest, manifest.get(rel)))
                if not pending:
                    break
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    try:
                        rel, was_fetched, entry = fut.result()
                    except _Cancelled:
                        continue
                    except BaseException as exc:
                        if error is None:
                            error = exc
                            dl.stop.set()
                        continue
                    manifest[rel] = entry
                    unsaved += 1
                    (fetched if was_fetched else skipped).append(rel)
                with dl.lock:
                    dl.bar.set_postfix_str(f"{len(fetched) + len(skipped)}/{total} files", refresh=False)
                if unsaved and (
                    unsaved >= _MANIFEST_SAVE_EVERY or time.monotonic() - last_save > _MANIFEST_SAVE_SECONDS
                ):
                    _save_manifest(dl.root, manifest)
                    unsaved, last_save = 0, time.monotonic()
        except BaseException:
            dl.stop.set()
            raise
        finally:
            if unsaved:
                _save_manifest(dl.root, manifest)
    if error is not None:
        raise error


# --------------------------------------------------------------------------------------------
# Verification of a local copy
# --------------------------------------------------------------------------------------------


def verify_dataset(
    name: str,
    data_dir: str | os.PathLike[str],
    *,
    files: Sequence[str] | None = None,
    require_all: bool = False,
    use_manifest: bool = False,
    workers: int = 4,
    progress: bool = False,
) -> list[str]:
    """Check the files present in ``data_dir/<folder>/`` against its ``SHA256SUMS.txt``.

    Every present file is hashed (a full check, unless ``use_manifest`` trusts the verified-manifest
    for files whose size and mtime did not change). Missing files are not problems unless
    ``require_all`` is set, since partial copies are normal. A folder that
    :func:`download_dataset` manages (it has a ``.leadlift-verified.json``) gets its manifest
    updated on the way; any other folder (a shared or read-only copy) is never written to.

    Args:
        name: dataset short name, slug or folder.
        data_dir: the data directory that contains the dataset folder.
        files: optional subset, as for :func:`download_dataset`.
        require_all: also report listed files that are absent.
        use_manifest: trust ``.leadlift-verified.json`` for unchanged files (fast re-checks).
        workers: number of hashing threads.
        progress: show a progress bar over the files.

    Returns:
        One line per problem (``"<path>: ..."``), in the order of the checksum list; empty if all
        is well.

    Raises:
        DataNotFoundError: the dataset folder or its ``SHA256SUMS.txt`` is missing.
    """
    ds = get_dataset(name)
    root = Path(data_dir) / ds.folder
    sums = root / CHECKSUM_FILE
    if not root.is_dir():
        raise DataNotFoundError(
            f"no `{ds.folder}/` folder in {data_dir}; run `leadlift download {ds.name}` or point "
            "--data-dir / LEADLIFT_DATA at the folder that contains it"
        )
    if not sums.is_file():
        raise DataNotFoundError(
            f"{sums} is missing, so {ds.label} cannot be verified; run `leadlift download {ds.name}` "
            f"(it fetches {CHECKSUM_FILE} first) or copy it from {ds.landing_url}"
        )
    entries = read_sha256sums(sums)
    entries.pop(CHECKSUM_FILE, None)
    selected = _select(entries, files, ds)
    manifest = {k: v for k, v in _load_manifest(root).items() if k in entries}

    def check(rel: str, expected: str) -> tuple[str, str | None, _ManifestEntry | None]:
        path = root / rel
        try:
            st = path.stat()
        except OSError:
            return rel, (f"{rel}: missing" if require_all else None), None
        cached = manifest.get(rel)
        if use_manifest and cached == (st.st_size, st.st_mtime_ns, expected):
            return rel, None, cached
        try:
            got = sha256_file(path)
        except OSError as exc:
            return rel, f"{rel}: unreadable ({exc.strerror or exc})", None
        if got != expected:
            return rel, f"{rel}: SHA256 mismatch (expected {expected[:12]}…, got {got[:12]}…)", None
        return rel, None, (st.st_size, st.st_mtime_ns, expected)

    found: dict[str, str] = {}
    with (
        ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="leadlift-verify") as pool,
        tqdm(total=len(selected), unit="file", desc=f"verify {ds.folder}", disable=not progress) as bar,
    ):
        for rel, problem, entry in pool.map(lambda kv: check(*kv), selected.items()):
            bar.update(1)
            if problem is not None:
                found[rel] = problem
                manifest.pop(rel, None)
            elif entry is not None:
                manifest[rel] = entry
    if (root / MANIFEST_FILE).is_file():
        _save_manifest(root, manifest)
    return [found[rel] for rel in selected if rel in found]
