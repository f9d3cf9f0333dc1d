"""Ask a running ``reelsearch serve`` to embed texts: its model is already warm.

``reelsearch serve`` writes ``<data-dir>/server.json`` (host, port, pid) once it listens and
removes it when it stops. A CLI ``search`` or ``report`` on the same data dir that needs a new
text embedded finds the file with :func:`find_server` and asks ``GET /api/embed``; a missing
or stale file (dead pid, nobody listening, another encoder) means the CLI embeds in-process,
silently. :class:`ServerTexts` is that choice behind the ``Encoder`` protocol.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

SERVER_FILE = "server.json"
TIMEOUT_SECONDS = 60.0  # warm: milliseconds; still warming up: no longer than loading the model here
MAX_TEXTS = 64  # per /api/embed request


@dataclass(frozen=True)
class ServerAddress:
    """Where a ``reelsearch serve`` of a data dir listens."""

    host: str
    port: int
    pid: int

    def __post_init__(self) -> None:
        if not self.host or not 0 < self.port < 65536 or self.pid < 1:
            raise ValueError(f"not a server address: {self!r}")

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else "::1" if self.host == "::" else self.host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"


def write_server_file(data_dir: Path, address: ServerAddress) -> Path:
    """Announce ``address`` in ``data_dir`` (written atomically); returns the file."""
    path = Path(data_dir) / SERVER_FILE
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=".server.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump({"host": address.host, "port": address.port, "pid": address.pid}, handle)
    os.replace(scratch, path)
    return path


def remove_server_file(data_dir: Path, pid: int) -> None:
    """Remove the announcement if it is still ``pid``'s (another server may have replaced it)."""
    path = Path(data_dir) / SERVER_FILE
    found = _read(path)
    if found is not None and found.pid == pid:
        path.unlink(missing_ok=True)


def find_server(data_dir: Path) -> ServerAddress | None:
    """The server announced in ``data_dir`` if its process is alive, else None (stale files are ignored)."""
    address = _read(Path(data_dir) / SERVER_FILE)
    if address is None or not _alive(address.pid):
        return None
    return address


def _read(path: Path) -> ServerAddress | None:
    try:
        data = json.loads(path.read_text())
        return ServerAddress(str(data["host"]), int(data["port"]), int(data["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


class ServerTexts:
    """An ``Encoder`` whose texts are embedded by the server at ``address``, else by ``local``.

    The first failure (refused, timeout, another encoder on the server) switches to ``local``
    for good; images are always ``local``'s.
    """

    def __init__(self, address: ServerAddress, local: Any) -> None:
        self.address, self.local = address, local
        self.name: str = local.name
        self.dim: int = int(local.dim)
        self.failed = False

    @property
    def image_size(self) -> int:
        return int(self.local.image_size)

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        return self.local.encode_images(images)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(N, dim) float32 unit rows, from the server while it answers."""
        texts = list(texts)
        if not self.failed and texts:
            try:
                return np.concatenate([self._ask(texts[i : i + MAX_TEXTS]) for i in range(0, len(texts), MAX_TEXTS)])
            except (OSError, ValueError, KeyError) as exc:  # URLError is an OSError
                self.failed = True
                log.info("server %s did not embed (%s): embedding here", self.address.url, exc)
        return self.local.encode_texts(texts)

    def _ask(self, texts: list[str]) -> np.ndarray:
        query = urllib.parse.urlencode([("text", t) for t in texts])
        with urllib.request.urlopen(f"{self.address.url}/api/embed?{query}", timeout=TIMEOUT_SECONDS) as answer:
            data = json.load(answer)
        if data["encoder"] != self.name:
            raise ValueError(f"the server embeds with {data['encoder']}, this index with {self.name}")
        vectors = np.asarray(data["vectors"], dtype=np.float32)
        if vectors.shape != (len(texts), self.dim):
            raise ValueError(f"the server returned shape {vectors.shape} for {len(texts)} texts")
        return vectors


def prefer_server(data_dir: Path, local: Any) -> Any:
    """``local``, or :class:`ServerTexts` in front of it when a server of ``data_dir`` is running."""
    address = find_server(data_dir)
    return local if address is None else ServerTexts(address, local)
