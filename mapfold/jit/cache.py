"""numba's on-disk cache for mapfold's jitted functions: never stale, never fatal.

numba's ``cache=True`` has three weaknesses for a package like this one, and this module removes
them for mapfold's functions only (every other package keeps numba's own cache):

Stale entries
    numba checks only the file that defines a function, but mapfold's compiled code inlines
    other modules (the kernel into the worker loop, the sender's ``push`` into the kernel,
    numba-progress's ``update`` into the worker loop, the intrinsics everywhere). Here every
    function is cached in a folder named after a digest of *all* of mapfold's sources, of
    numba-progress's sources, and of the numba, llvmlite, numpy and Python versions. After any
    edit or upgrade the folder name changes, so numba never even sees an old entry; nothing is
    deleted, so two installs (or versions) sharing ``NUMBA_CACHE_DIR`` never disturb each other.
No writable place
    numba raises at import when no cache folder is writable (a read-only install, an unwritable
    HOME). Here mapfold warns once, on the first compilation, and compiles without a cache.
Damaged files
    numba unpickles whatever it finds. Here each index and data file carries a SHA-256 of its
    contents; a file that does not match (truncated, overwritten) or does not load is treated as
    absent: mapfold says so once and compiles afresh, and the next save replaces it.

How it hooks in: ``install()`` (called by ``mapfold/__init__.py`` before any jitted module is
imported) wraps ``Dispatcher.enable_caching``, which numba calls for every ``cache=True``
function; for functions defined in mapfold's modules it installs the caches below.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

#: The mapfold package (this file is in its ``jit`` subpackage).
_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_HASH_SIZE = hashlib.sha256().digest_size
_reported: set[str] = set()


def _report_once(kind: str, message: str) -> None:
    """One line on stderr, at most once per process and kind."""
    if kind not in _reported:
        _reported.add(kind)
        try:
            print(f"mapfold: {message}", file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass  # stderr is gone; the run does not depend on the notice


def _inlined_package_dirs() -> list[Path]:
    """Folders of the Python sources that mapfold's compiled code inlines: mapfold's and numba-progress's."""
    folders = [_PACKAGE_DIR]
    try:
        import numba_progress

        folders.append(Path(numba_progress.__file__).resolve().parent)
    except ImportError:
        pass
    return folders


@functools.lru_cache(maxsize=1)
def sources_digest() -> str:
    """SHA-256 over every source the compiled code comes from, and the versions that compile it.

    Computed once, when the first jitted module is imported; see ``_current_digest``.
    """
    return _current_digest()


def _current_digest() -> str:
    """The digest of the sources as they are on disk now.

    Covers every ``.py`` file of mapfold and numba-progress (by name and content), the install
    location, and the numba, llvmlite, numpy and Python versions.
    """
    import llvmlite
    import numba
    import numpy

    digest = hashlib.sha256()
    for part in (str(_PACKAGE_DIR), numba.__version__, llvmlite.__version__, numpy.__version__, sys.version):
        digest.update(part.encode() + b"\0")
    for folder in _inlined_package_dirs():
        for source in sorted(folder.rglob("*.py")):
            digest.update(source.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(source.read_bytes())
    return digest.hexdigest()


def _candidate_roots() -> list[Path]:
    """Where a cache may go, best first: numba's ``NUMBA_CACHE_DIR``, beside the sources, numba's user-wide folder."""
    from numba.core import config
    from numba.misc.appdirs import AppDirs

    roots = []
    if config.CACHE_DIR:
        roots.append(Path(config.CACHE_DIR))
    roots.append(_PACKAGE_DIR / "__pycache__")
    try:
        roots.append(Path(AppDirs(appname="numba", appauthor=False).user_cache_dir))
    except (KeyError, OSError, RuntimeError):
        pass  # no home folder at all
    return roots


@functools.lru_cache(maxsize=1)
def cache_folder() -> Path | None:
    """The writable folder that holds this install's compilations, or ``None`` when there is none."""
    name = f"mapfold-{sources_digest()[:24]}"
    for root in _candidate_roots():
        folder = root / name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=folder).close()
        except OSError:
            continue
        return folder
    return None


def _damaged(path: str) -> None:
    _report_once("damaged", f"note: damaged compiled-code cache in {os.path.dirname(path)}; compiling afresh")


def _checksummed_cache_file_class() -> type:
    """numba's cache file with a checksum on each file (made on first use, as below)."""
    from numba.core import caching

    class ChecksummedCacheFile(caching.IndexDataCacheFile):
        """numba's index and data files, each prefixed with the SHA-256 of the rest."""

        def _load_index(self) -> dict:
            try:
                payload = self._read_checked(self._index_path)
                if payload is None:
                    return {}
                version, stamp, overloads = pickle.loads(payload)
                if version != self._version or stamp != self._source_stamp or not isinstance(overloads, dict):
                    return {}
                return overloads
            except Exception:  # noqa: BLE001 - any damage means "no entries"
                _damaged(self._index_path)
                return {}

        def _save_index(self, overloads: dict) -> None:
            self._write_checked(self._index_path, self._dump((self._version, self._source_stamp, overloads)))

        def _load_data(self, name: str) -> Any:
            path = self._data_path(name)
            payload = self._read_checked(path)
            if payload is None:
                raise FileNotFoundError(path)  # load() treats it as a miss
            return pickle.loads(payload)

        def _save_data(self, name: str, data: Any) -> None:
            self._write_checked(self._data_path(name), self._dump(data))

        def load(self, key: Any) -> Any:
            try:
                return super().load(key)
            except Exception:  # noqa: BLE001 - a file that does not unpickle is damaged
                _damaged(self._index_path)
                return None

        @staticmethod
        def _read_checked(path: str) -> bytes | None:
            """The file's payload; ``None`` if it is absent; ``ValueError`` if it does not match its hash."""
            try:
                with open(path, "rb") as file:
                    content = file.read()
            except FileNotFoundError:
                return None
            checksum, payload = content[:_HASH_SIZE], content[_HASH_SIZE:]
            if len(checksum) != _HASH_SIZE or hashlib.sha256(payload).digest() != checksum:
                _damaged(path)
                raise ValueError(f"{path}: checksum mismatch")
            return payload

        def _write_checked(self, path: str, payload: bytes) -> None:
            with self._open_for_write(path) as file:  # a temporary file renamed into place: atomic
                file.write(hashlib.sha256(payload).digest())
                file.write(payload)

    return ChecksummedCacheFile


def _build_cache_classes() -> tuple[type, type]:
    """The cache classes, made on first use so that importing this module does not import numba."""
    from numba.core import caching

    checksummed_cache_file = _checksummed_cache_file_class()

    class MapfoldLocator(caching._CacheLocator):
        """Every mapfold function caches in ``cache_folder()``; the digest is its freshness stamp."""

        def __init__(self, py_func, folder: Path) -> None:
            self._lineno = py_func.__code__.co_firstlineno
            self._folder = str(folder)

        def get_cache_path(self) -> str:
            return self._folder

        def get_source_stamp(self) -> str:
            return sources_digest()

        def get_disambiguator(self) -> str:
            return str(self._lineno)

        @classmethod
        def from_function(cls, py_func, py_file):
            folder = cache_folder()
            return None if folder is None else cls(py_func, folder)

    class MapfoldCacheImpl(caching.CompileResultCacheImpl):
        _locator_classes = [MapfoldLocator]

    class MapfoldFunctionCache(caching.FunctionCache):
        """numba's function cache in mapfold's folder, with checked files; never raises."""

        _impl_class = MapfoldCacheImpl

        def __init__(self, py_func) -> None:
            super().__init__(py_func)
            self._cache_file = checksummed_cache_file(
                cache_path=self._cache_path, filename_base=self._impl.filename_base, source_stamp=sources_digest()
            )

        def load_overload(self, sig, target_context):
            try:
                return super().load_overload(sig, target_context)
            except Exception:  # noqa: BLE001 - an entry that does not rebuild is damaged: compile instead
                _damaged(self._cache_path + os.sep)
                return None

        def save_overload(self, sig, data) -> None:
            if _current_digest() != sources_digest():
                # The sources changed on disk since this process read them: what it compiled may
                # belong to neither version, so it is kept out of both folders.
                _report_once("changed", "note: mapfold's sources changed while it ran; not caching this run's compilations")
                return
            try:
                super().save_overload(sig, data)
            except OSError as error:
                _report_once("unsaved", f"warning: could not save compiled code in {self._cache_path} ({error.strerror})")

    class UncachedNotice(caching.NullCache):
        """No writable cache folder: compile every time, and say so once, on the first compilation."""

        def load_overload(self, sig, target_context):
            tried = ", ".join(str(root) for root in _candidate_roots())
            _report_once(
                "uncached",
                f"warning: no writable cache folder ({tried}); compiling without a cache "
                "(set NUMBA_CACHE_DIR to a writable folder to keep compilations)",
            )
            return None

    return MapfoldFunctionCache, UncachedNotice


def _is_mapfold_function(py_func) -> bool:
    return getattr(py_func, "__module__", "").split(".")[0] == "mapfold"


def install() -> None:
    """Give every ``cache=True`` function of mapfold the cache above (once per process).

    Must run before mapfold's jitted modules are imported: numba picks a function's cache when it
    is decorated.
    """
    from numba.core.dispatcher import Dispatcher

    if getattr(Dispatcher.enable_caching, "_mapfold_wrapped", False):
        return
    numba_enable_caching = Dispatcher.enable_caching
    mapfold_cache, uncached = _build_cache_classes()

    def enable_caching(dispatcher) -> None:
        if not _is_mapfold_function(dispatcher.py_func):
            numba_enable_caching(dispatcher)
        elif cache_folder() is None:
            dispatcher._cache = uncached()
        else:
            dispatcher._cache = mapfold_cache(dispatcher.py_func)

    enable_caching._mapfold_wrapped = True
    Dispatcher.enable_caching = enable_caching
