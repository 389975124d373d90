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


def _cached_compilations(root: Path) -> list[Path]:
    """mapfold's compilations under a cache root: beside the sources, or numba's per-package folders."""
    if root == _PACKAGE_DIR / "__pycache__":
        folders = [root]
    else:  # NUMBA_CACHE_DIR holds one folder per package, named after it
        folders = [path for path in root.glob("*mapfold*") if path.is_dir()]
    return [cached for folder in folders for pattern in ("*.nbi", "*.nbc") for cached in folder.glob(pattern)]


def drop_stale_compilations() -> None:
    """Delete cached compilations made from other sources than the ones installed now.

    A stamp with the sources' digest sits at each cache root; a missing or different stamp means
    the cached compilations there cannot be trusted. Never fails an import: if the cache cannot be
    read or written, numba simply compiles.
    """
    roots = [_PACKAGE_DIR / "__pycache__"]
    if os.environ.get("NUMBA_CACHE_DIR"):
        roots.append(Path(os.environ["NUMBA_CACHE_DIR"]))
    try:
        current = sources_digest()
        for root in roots:
            stamp = root / _STAMP_NAME
            if stamp.is_file() and stamp.read_text().strip() == current:
                continue
            if root.is_dir():
                for cached in _cached_compilations(root):
                    cached.unlink(missing_ok=True)
            root.mkdir(parents=True, exist_ok=True)
            stamp.write_text(current)
    except OSError:
        pass
