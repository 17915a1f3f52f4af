"""The `paper` and `qwen2-0.5b` presets are the paper's released setting, checked on what their commands
resolve to (LightningCLI parses the very `embedlab fit` / `embedlab test` arguments the study runs), and
the `-improved` presets list exactly the settings in which they differ."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
import yaml

from embedlab.cli import EmbedlabCLI
from embedlab.errors import EmbedlabError
from embedlab.module import EmbeddingModule
from embedlab.registry import pooling_heads
from embedlab.study import preset as presets
from embedlab.study.command import main as study
from embedlab.study.plan import build_plan, describe
from embedlab.study.preset import available_presets, configs_root, load_preset

CONFIGS = configs_root()
OUT = Path("/nonexistent/study")
PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

# The released run (Tang & Yang 2024, github.com/yixuantt/PoolingAndAttn), as resolved config keys.
PAPER = {
    # accelerate_config.yaml: DeepSpeed ZeRO-2 without offload, 8 processes on one node, bf16
    "trainer.strategy.class_path": "lightning.pytorch.strategies.DeepSpeedStrategy",
    "trainer.strategy.init_args.stage": 2,
    "trainer.strategy.init_args.offload_optimizer": False,
    "trainer.devices": "8",  # Lightning's type for devices is int | str | list: the flag stays a string
    "trainer.precision": "bf16-mixed",
    # launch command: --per_device_train_batch_size 1 --gradient_accumulation_steps 256 --max_steps 1000
    "data.init_args.batch_size": 1,
    "trainer.accumulate_grad_batches": 256,
    "trainer.max_steps": 1000,
    # launch command: --learning_rate 1e-5 --lr_scheduler_type linear --warmup_steps 100 --weight_decay 0.01
    "model.learning_rate": 1e-5,
    "model.warmup_steps": 100,
    "model.weight_decay": 0.01,
    # loss/HardNegativeNLLLoss.py: cosine x 20, query -> [gathered positives, gathered negatives], no masking
    "model.loss.class_path": "embedlab.losses.InfoNCE",
    "model.loss.init_args.temperature": 0.05,
    "model.loss.init_args.learnable_temperature": False,
    "model.loss.init_args.symmetric": False,
    "model.loss.init_args.query_query": False,
    "model.loss.init_args.mask_duplicates": False,
    # lora.json: r 16, alpha 32, dropout 0.1 on the 7 projections
    "model.backbone.init_args.lora.r": 16,
    "model.backbone.init_args.lora.alpha": 32,
    "model.backbone.init_args.lora.dropout": 0.1,
    "model.backbone.init_args.lora.target_modules": PROJECTIONS,
    # trainers: bf16 weights, add_eos_token=True, left padding, no gradient checkpointing; --max_seq_length 512
    "model.backbone.init_args.dtype": "bfloat16",
    "model.backbone.init_args.append_eos": True,
    "model.backbone.init_args.padding_side": "left",
    "model.backbone.init_args.gradient_checkpointing": False,
    "model.backbone.init_args.max_length": 512,
    # trainers' data: yixuantt/ir_data, one hard negative, each text truncated to 512 on its own,
    # DataLoader(shuffle=True): no bucketing, no single-source batches, no de-duplication, no validation
    "data.class_path": "embedlab.data.TrainingMix",
    "data.init_args.num_negatives": 1,
    "data.init_args.query_max_length": 512,
    "data.init_args.document_max_length": 512,
    "data.init_args.length_bucketing": False,
    "data.init_args.single_source_batches": False,
    "data.init_args.unique_texts": False,
    "data.init_args.val_fraction": 0.0,
    # run_mteb.py / mteb_task.py / eval_instruction.py: the 47 tasks, 512 tokens, 64 a batch, fp16 autocast
    "evaluation.suite": "paper",
    "evaluation.max_length": 512,
    "evaluation.batch_size": 64,
    "evaluation.instructions": "default",
    "evaluation.precision": "fp16",
}
BACKBONES = {"paper": "mistralai/Mistral-7B-v0.1", "qwen2-0.5b": "Qwen/Qwen2-0.5B"}
WIDTH = {"paper": (4096, 32), "qwen2-0.5b": (896, 24)}  # hidden size, layers
HEADS = {
    "m1_eos_causal": ("LastToken", "Causal"),
    "m2_lastlayer_causal": ("TrainableLastLayer", "Causal"),
    "m3_multilayer_causal": ("MultiLayerTrainable", "Causal"),
    "m4_lastlayer_bidir": ("TrainableLastLayer", "Bidirectional"),
    "m5_multilayer_bidir": ("MultiLayerTrainable", "Bidirectional"),
}
RUN_SPECIFIC = {"config", "trainer.default_root_dir", "evaluation.run_dir"}


class ParseOnlyCLI(EmbedlabCLI):
    def instantiate_classes(self) -> None:
        pass


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in flatten(item, f"{prefix}{key}.").items()}
    return {prefix[:-1]: value}


def parse(argv: list[str]) -> dict[str, Any]:
    """The config LightningCLI resolves from a study command (subcommand dropped), as flat dotted keys."""
    cli = ParseOnlyCLI(EmbeddingModule, L.LightningDataModule, subclass_mode_data=True, run=False, args=argv[1:])
    return flatten(cli.config.as_dict())


@functools.cache
def planned(preset: str, variant: str):
    runs = build_plan(load_preset(preset), OUT, CONFIGS, [variant], [0])
    return next(r for r in runs if r.kind == "trained" and r.variant == variant)


@functools.cache
def resolved(preset: str, variant: str) -> dict[str, Any]:
    """What the trained run of `variant` (seed 0) resolves to: its fit config plus its evaluation options."""
    run = planned(preset, variant)
    fit = parse(run.fit)
    test = parse(run.evaluate)
    assert {k: v for k, v in test.items() if k.startswith("model.pooling")} == {
        k: v for k, v in fit.items() if k.startswith("model.pooling")
    }  # the evaluation builds the head it trained, also without a checkpoint's hyper-parameters
    fit.update({k: v for k, v in test.items() if k.startswith("evaluation.")})
    return {k: v for k, v in fit.items() if k not in RUN_SPECIFIC}


def flag_value(argv: list[str], flag: str) -> str:
    assert argv.count(flag) == 1, (flag, argv)
    return argv[argv.index(flag) + 1]


def pooler_parameters(width: int, layers: int | None) -> int:
    """The released PerceiverResampler's size at `width` (768 latents, 32 heads x 2048, GEGLU x 4)."""
    inner = 32 * 2048
    latents, norms = 768 * width, 3 * 2 * width
    attention = width * inner + width * 2 * inner + inner * width  # to_q, to_kv, to_out (no bias)
    ffn = (width * 8 * width + 8 * width) + (4 * width * width + width)
    return latents + norms + attention + ffn + (layers * width if layers else 0)  # + additive layer embedding


@pytest.mark.parametrize("name", ["paper", "qwen2-0.5b"])
def test_the_faithful_presets_resolve_to_the_released_setting(name):
    values = resolved(name, "m5_multilayer_bidir")
    assert {key: values.get(key) for key in PAPER} == PAPER
    assert values["model.backbone.init_args.name_or_path"] == BACKBONES[name]
    from embedlab.instruction_template import resolve_template

    # run_mteb.py: prompt + text with no separator
    assert resolve_template(values["evaluation.instruction_template"]) == "{instruction}"
    (source,) = values["data.init_args.sources"]
    assert source["class_path"] == "embedlab.data.HubSource"
    args = source["init_args"]
    assert (args["path"], args["split"], args["negatives"]) == ("yixuantt/ir_data", "train", "data")
    assert args["columns"] == {"query": "query", "positive": "positive", "negatives": "negative"}
    assert args.get("instruction") is None  # the trainers feed the queries as they are
    assert args["streaming"] is False  # a full permutation of the rows each pass, as DataLoader(shuffle=True)
    preset = load_preset(name)
    assert (preset.max_steps, preset.baseline, preset.variants) == (1000, "m1_eos_causal", list(HEADS))


@pytest.mark.parametrize("name", ["paper", "qwen2-0.5b"])
def test_every_variant_gets_the_released_pooler_and_inputs(name):
    width, layers = WIDTH[name]
    for variant, (head, _) in HEADS.items():
        run = planned(name, variant)
        if head == "LastToken":  # nothing to size: the pooling options do not apply to it
            assert "--model.pooling.init_args.preset" not in run.fit + run.evaluate
            continue
        for argv in (run.fit, run.evaluate):
            assert flag_value(argv, "--model.pooling.init_args.preset") == "paper"
            assert flag_value(argv, "--model.pooling.init_args.paper_faithful") == "true"
        cls = pooling_heads()[head]
        with torch.device("meta"):  # sized, never allocated
            pooler = cls(width, **({"num_layers": layers} if head == "MultiLayerTrainable" else {}), preset="paper")
        expected = pooler_parameters(width, layers if head == "MultiLayerTrainable" else None)
        assert sum(p.numel() for p in pooler.parameters()) == expected
    # the figures the presets state: "1.28 B" at Mistral's width, 245 M at Qwen2's (the assumption)
    assert pooler_parameters(4096, None) == 1_278_275_584 and pooler_parameters(896, 24) == 245_237_888
    values = resolved(name, "m5_multilayer_bidir")
    assert values["model.pooling.class_path"] == "embedlab.models.MultiLayerTrainable"
    assert values["model.attention.class_path"] == "embedlab.models.Bidirectional"
    assert (values["model.pooling.init_args.preset"], values["model.pooling.init_args.paper_faithful"]) == (
        "paper",
        True,
    )


@pytest.mark.parametrize(("improved", "faithful"), [("paper-improved", "paper"), ("qwen2-0.5b-improved", "qwen2-0.5b")])
def test_the_improved_presets_list_every_difference_and_only_those(improved, faithful):
    preset = load_preset(improved)
    assert preset.differs_from == faithful
    listed = {entry["key"]: (entry["paper"], entry["here"]) for entry in preset.differences}
    a, b = resolved(faithful, "m5_multilayer_bidir"), resolved(improved, "m5_multilayer_bidir")
    actual = {key: (a.get(key), b.get(key)) for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)}
    assert actual == listed
    # what the issue asks of it: the masked inputs, a larger contrastive pool, bucketing, the scaled pooler
    assert listed["model.pooling.init_args.paper_faithful"] == (True, False)
    assert listed["model.pooling.init_args.preset"] == ("paper", "scaled")
    assert listed["data.init_args.length_bucketing"] == (False, True)
    # same triplets per optimizer step: 1 x 8 x 256 = 32 x 8 x 8 = 2048
    for values in (a, b):
        per_step = values["data.init_args.batch_size"] * int(values["trainer.devices"])
        assert per_step * values["trainer.accumulate_grad_batches"] == 2048


def test_the_plan_prints_the_differences():
    preset = load_preset("paper-improved")
    table = presets.differences_markdown(preset)
    lines = table.splitlines()
    assert lines[0] == "Settings that differ from the `paper` preset:"
    assert lines[2] == "| setting | `paper` | `paper-improved` | why |"
    assert lines[4].startswith("| `model.pooling.init_args.preset` | `paper` | `scaled` | 32 latents x 8 heads")
    assert len(lines) == 4 + len(preset.differences)
    text = describe(preset, build_plan(preset, OUT, CONFIGS))
    assert "  | `data.init_args.batch_size` | `1` | `32` |" in text
    assert presets.differences_markdown(load_preset("paper")) == ""


def test_every_preset_parses_and_prints_its_plan(capsys):
    assert {"paper", "paper-improved", "qwen2-0.5b", "qwen2-0.5b-improved"} <= set(available_presets())
    for name in available_presets():
        assert study(["--preset", name, "--dry-run", "--out", str(OUT)]) == 0
        assert f"study {name}:" in capsys.readouterr().out


def test_no_preset_or_config_points_outside_the_repository():
    root = CONFIGS.parent
    files = [*CONFIGS.rglob("*.yaml"), root / "README.md", *root.glob("benchmarks/*.py"), *root.glob("docs/*.md")]
    for path in files:
        assert "shared/docs" not in path.read_text(encoding="utf-8"), path


def write_preset(tmp_path: Path, **changes) -> str:
    raw = yaml.safe_load((CONFIGS / "studies" / "paper-improved.yaml").read_text())
    raw.update(changes)
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_a_pooling_option_no_head_takes_is_an_error(tmp_path):
    message = r"pooling option 'presett' is taken by none of the variants' heads"
    with pytest.raises(EmbedlabError, match=message) as info:
        load_preset(write_preset(tmp_path, pooling={"presett": "paper"}), CONFIGS)
    assert "their options: preset" in str(info.value)
    flag = {"model.pooling.init_args.preset": "paper"}
    with pytest.raises(EmbedlabError, match=r"fit: model\.pooling\.init_args\.preset: pooling options go under"):
        load_preset(write_preset(tmp_path, fit=flag), CONFIGS)


def test_malformed_differences_are_errors(tmp_path):
    with pytest.raises(EmbedlabError, match="`differences` needs `differs_from`"):
        load_preset(write_preset(tmp_path, differs_from=None), CONFIGS)
    with pytest.raises(EmbedlabError, match="differs_from 'papr' is not a study preset; presets: paper"):
        load_preset(write_preset(tmp_path, differs_from="papr"), CONFIGS)
    bad = [{"key": "trainer.devices", "paper": 8, "why": "no value here"}]
    with pytest.raises(EmbedlabError, match="differences item 1 must have exactly the keys key, paper, here, why"):
        load_preset(write_preset(tmp_path, differences=bad), CONFIGS)


@pytest.mark.slow
def test_accumulation_gathers_per_micro_step(tmp_path):
    """One triplet per device on 2 CPU processes with 2 accumulation steps: each micro-step's loss sees the
    2 gathered positives and 2 gathered negatives only (the paper's pool at 8 GPUs is 8 + 8), and the
    optimizer step's gradient is the mean of the two micro-steps' gradients."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "tests.study.test_paper_preset", str(tmp_path)]  # Lightning relaunches it
    result = subprocess.run(command, cwd=CONFIGS.parent, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    from tests.distributed.reference import EXAMPLES, build_module, collator_for

    module = build_module()
    module.train()
    for step in range(2):  # micro-step k: rank 0 holds example 2k, rank 1 example 2k + 1 (DistributedSampler)
        pair = [EXAMPLES[2 * step], EXAMPLES[2 * step + 1]]
        loss = module._loss(collator_for(module)(pair)) / 2  # Lightning divides by the accumulation steps
        loss.backward()
    grads = {n: p.grad for n, p in module.named_parameters() if p.grad is not None}
    synced = torch.load(tmp_path / "grads.pt")
    assert set(synced) == set(grads)
    for name, grad in grads.items():
        assert torch.allclose(synced[name], grad, atol=1e-5, rtol=1e-4), name
    pooled = build_module()  # the alternative the paper did not run: all 4 triplets in one pool
    pooled.train()
    pooled._loss(collator_for(pooled)(EXAMPLES[:4])).backward()
    name = next(iter(grads))
    assert not torch.allclose(dict(pooled.named_parameters())[name].grad, grads[name], atol=1e-5)


def accumulation_worker(out: str) -> None:
    """Run by `test_accumulation_gathers_per_micro_step`: 1 optimizer step of 2 micro-steps on 2 processes."""
    import warnings

    from torch.utils.data import DataLoader

    from tests.distributed.reference import EXAMPLES, build_module, collator_for

    class Pairs(L.LightningDataModule):
        def train_dataloader(self) -> DataLoader:
            return DataLoader(EXAMPLES[:4], batch_size=1, shuffle=False, collate_fn=collator_for(module))

    class Capture(L.Callback):
        def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
            if trainer.global_rank == 0:  # DDP has averaged the accumulated gradients over ranks by now
                grads = {n: p.grad.detach().clone() for n, p in pl_module.named_parameters() if p.grad is not None}
                torch.save(grads, Path(out) / "grads.pt")

    warnings.simplefilter("ignore")
    module = build_module()
    trainer = L.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        max_steps=1,
        accumulate_grad_batches=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[Capture()],
    )
    trainer.fit(module, Pairs())


if __name__ == "__main__":
    accumulation_worker(sys.argv[1])
