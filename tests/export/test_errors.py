"""Bad input gives an EmbedlabError naming the file at fault, never a bare traceback."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from embedlab import Embedder
from embedlab.cli import main as cli_main
from embedlab.errors import AttentionPolicyError, EmbedlabError
from embedlab.export.st_modules import load_sentence_transformer
from embedlab.export.writer import export_checkpoint
from tests.export.conftest import TEXTS, make_module, save_checkpoint


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One good export (Mean + Bidirectional, LoRA), copied by the tests that break it."""
    folder = tmp_path_factory.mktemp("export")
    checkpoint = save_checkpoint(make_module("TrainableLastLayer", "Bidirectional"), folder / "model.ckpt")
    return export_checkpoint(checkpoint, folder / "out", verify=False)


@pytest.fixture
def copy(exported, tmp_path):
    return shutil.copytree(exported, tmp_path / "copy")


def test_missing_checkpoint(tmp_path):
    with pytest.raises(EmbedlabError, match=r"nothing\.ckpt does not exist"):
        export_checkpoint(tmp_path / "nothing.ckpt", tmp_path / "out")


@pytest.mark.parametrize("content", [b"not a checkpoint", None])
def test_unreadable_checkpoint(tmp_path, content):
    path = tmp_path / "broken.ckpt"
    if content is None:
        torch.save({"state_dict": {}}, path)  # a torch file, but not an EmbeddingModule checkpoint
    else:
        path.write_bytes(content)
    with pytest.raises(EmbedlabError, match=r"broken\.ckpt"):
        export_checkpoint(path, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.ckpt"]  # no partial folder left behind


def test_a_non_empty_out_needs_overwrite(checkpoint, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(EmbedlabError, match=r"out exists and is not empty; pass --overwrite"):
        export_checkpoint(checkpoint, out)
    assert (out / "keep.txt").read_text() == "mine"
    export_checkpoint(checkpoint, out, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "modules.json").is_file()
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_out_that_is_a_file(checkpoint, tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(EmbedlabError, match="not a folder"):
        export_checkpoint(checkpoint, tmp_path / "out", overwrite=True)


MISSING = [
    "embedlab.json",
    "config.json",
    "model.safetensors",
    "tokenizer_config.json",
    "modules.json",
    "1_EmbedlabPooling/head.json",
    "1_EmbedlabPooling/model.safetensors",
]


@pytest.mark.parametrize("name", MISSING)
def test_missing_file_is_named(copy, name):
    (copy / name).unlink()
    with pytest.raises(EmbedlabError, match=rf"{name}.* is missing"):
        Embedder.from_pretrained(copy, device="cpu")
    with pytest.raises(EmbedlabError, match=rf"{name}"):
        load_sentence_transformer(copy, device="cpu")


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("model.safetensors", "truncate"),
        ("1_EmbedlabPooling/model.safetensors", "garbage"),
        ("1_EmbedlabPooling/head.json", "garbage"),
        ("embedlab.json", "list"),
        ("config.json", "garbage"),
    ],
)
def test_corrupt_file_is_named(copy, name, damage):
    path = copy / name
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00garbage{")
    else:
        path.write_text("[]")
    with pytest.raises(EmbedlabError, match=rf"{name}"):
        Embedder.from_pretrained(copy, device="cpu")


def test_sentence_transformer_by_path_names_the_missing_file(copy):
    from sentence_transformers import SentenceTransformer

    (copy / "1_EmbedlabPooling" / "head.json").unlink()
    with pytest.raises(EmbedlabError, match=r"head\.json is missing"):
        SentenceTransformer(str(copy), trust_remote_code=True, device="cpu")


def test_head_description_that_does_not_fit_the_weights(copy):
    path = copy / "1_EmbedlabPooling" / "head.json"
    spec = json.loads(path.read_text())
    spec["init_args"]["num_latents"] = 7
    path.write_text(json.dumps(spec))
    with pytest.raises(EmbedlabError, match=r"model\.safetensors does not fit the head"):
        Embedder.from_pretrained(copy, device="cpu")
    spec["class_path"] = "TrainableLastLayr"
    path.write_text(json.dumps(spec))
    with pytest.raises(EmbedlabError, match=r"Unknown pooling head 'TrainableLastLayr'.*TrainableLastLayer"):
        Embedder.from_pretrained(copy, device="cpu")


def test_attention_policy_is_proved_on_load(exported, monkeypatch):
    import embedlab.export.backbone as backbone_module

    calls = []
    original = backbone_module.verify_attention
    monkeypatch.setattr(
        backbone_module,
        "verify_attention",
        lambda b, expect_causal: calls.append(expect_causal) or original(b, expect_causal),
    )
    embedder = Embedder.from_pretrained(exported, device="cpu")
    assert calls == [False] and embedder.is_causal is False
    with pytest.raises(AttentionPolicyError, match="Causal attention does not hold"):
        original(embedder.input_module.backbone, expect_causal=True)  # the loaded model really is bidirectional


def test_cli_exports_and_reports_errors_without_traceback(checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli_main(["export", str(checkpoint), str(out)]) == 0
    assert Embedder.from_pretrained(out, device="cpu").encode(TEXTS).shape == (len(TEXTS), 32)
    capsys.readouterr()
    assert cli_main(["export", str(checkpoint), str(out)]) == 2
    error = capsys.readouterr().err
    assert "embedlab: error:" in error and "--overwrite" in error and "Traceback" not in error
    assert cli_main(["export", str(tmp_path / "missing.ckpt"), str(tmp_path / "other")]) == 2
    assert "missing.ckpt does not exist" in capsys.readouterr().err
