"""Keep numba's on-disk cache honest across mapfold's modules.

``cache=True`` makes numba check only the timestamp of the file that defines a function, but
mapfold's jitted functions inline code from other modules (the kernel's gap search into the task
splitter, the sender's ``push`` into the kernel, the intrinsics everywhere). After an edit to one
module, another module's cached machine code could still hold the old inlined version, and give a
wrong answer or hang. So at import, hash mapfold's sources; when the hash differs from the one saved
beside the cache, delete mapfold's cached compilations so numba compiles everything afresh.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_STAMP_NAME = "mapfold-sources.sha256"


def sources_digest() -> str:
    """SHA-256 over every module of the package, in name order."""
    digest = hashlib.sha256()
    for source in sorted(_PACKAGE_DIR.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _cache_dirs() -> list[Path]:
    """Where numba may keep mapfold's compilations: beside the sources, or under NUMBA_CACHE_DIR."""
    directories = [_PACKAGE_DIR / "__pycache__"]
    user_cache = os.environ.get("NUMBA_CACHE_DIR")
    if user_cache and Path(user_cache).is_dir():
        directories += [path for path in Path(user_cache).rglob("*") if path.is_dir() and "mapfold" in path.as_posix()]
    return directories


def drop_stale_compilations() -> None:
    """Delete cached compilations made from other sources than the ones installed now.

    Never fails an import: if the cache cannot be read or written, numba simply compiles.
    """
    try:
        current = sources_digest()
        for directory in _cache_dirs():
            stamp = directory / _STAMP_NAME
            if stamp.is_file() and stamp.read_text().strip() == current:
                continue
            if directory.is_dir():
                for cached in list(directory.glob("*.nbi")) + list(directory.glob("*.nbc")):
                    cached.unlink(missing_ok=True)
            directory.mkdir(parents=True, exist_ok=True)
            stamp.write_text(current)
    except OSError:
        pass
