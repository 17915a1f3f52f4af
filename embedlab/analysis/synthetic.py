"""Synthetic run directories in the exact format `embedlab test` writes, for tests and demos.

Deterministic: the same arguments give byte-identical files. Every run gets run.json,
config.yaml, cost.json, DONE, results/<Task>.json (MTEB 2.x TaskResult layout, scores rounded to
6 decimals as `TaskResult.to_disk` does) and predictions/<Task>.jsonl whose recomputed main score
equals the results JSON. Examples share a per-task difficulty across variants, so paired tests see
the positive correlation real models have; each variant shifts a latent quality per category, and
each seed adds a small run-to-run jitter.

The default design mirrors the paper's five models (Tang & Yang 2024, Table 2) plus a mean-pooling
variant, with effects chosen so that some differences are clear, some null and some negative.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.analysis.metrics import pearson_rows, spearman, v_measure
from embedlab.analysis.resampling import stable_seed


@dataclass(frozen=True)
class SyntheticVariant:
    """One synthetic model.

    Args:
        name: Variant name written to run.json.
        attention: Attention policy name.
        pooling: Pooling head name.
        effects: Category -> shift of the latent quality (0: same as the baseline).
    """

    name: str
    attention: str
    pooling: str
    effects: Mapping[str, float] = field(default_factory=dict)


DEFAULT_VARIANTS: tuple[SyntheticVariant, ...] = (
    SyntheticVariant("m1_eos_causal", "Causal", "LastToken"),
    SyntheticVariant(
        "m2_lastlayer_causal", "Causal", "TrainableLastLayer", {"STS": 0.25, "Retrieval": 0.10, "Clustering": -0.05}
    ),
    SyntheticVariant("m3_multilayer_causal", "Causal", "MultiLayerTrainable", {"STS": 0.25, "Retrieval": 0.15}),
    SyntheticVariant(
        "m4_lastlayer_bidir",
        "Bidirectional",
        "TrainableLastLayer",
        {"STS": 0.20, "Retrieval": 0.25, "Classification": -0.40, "Clustering": -0.50},
    ),
    SyntheticVariant(
        "m5_multilayer_bidir",
        "Bidirectional",
        "MultiLayerTrainable",
        {"STS": 0.35, "Retrieval": 0.30, "Classification": -0.15, "Clustering": -0.25},
    ),
    SyntheticVariant("m6_mean_bidir", "Bidirectional", "Mean", {"STS": -0.05}),
)
DEFAULT_TASKS: tuple[tuple[str, str], ...] = (
    *((f"SynSTS{i}", "STS") for i in range(1, 7)),
    *((f"SynClassification{i}", "Classification") for i in range(1, 4)),
    *((f"SynRetrieval{i}", "Retrieval") for i in range(1, 5)),
    *((f"SynClustering{i}", "Clustering") for i in range(1, 4)),
)
# one task per category: the smallest suite that covers the paper's four categories
ONE_TASK_PER_CATEGORY: tuple[tuple[str, str], ...] = tuple(
    (f"Syn{category}1", category) for category in ("STS", "Retrieval", "Classification", "Clustering")
)
DEFAULT_SIZES = {"STS": 150, "Retrieval": 120, "Classification": 200, "Clustering": 150, "Clustering.v2": 100}
MAIN_SCORE_NAME = {
    "STS": "cosine_spearman",
    "Retrieval": "ndcg_at_10",
    "Classification": "accuracy",
    "Clustering": "v_measure",
    "Clustering.v2": "v_measure",
}
# `Clustering.v2` (written as task_type Clustering): mteb's bootstrapped clustering, DRAWS draws of
# DRAW_FACTOR x n lines drawn with replacement from a pool of n documents, every line with its `item`.
DRAWS, DRAW_FACTOR = 10, 2


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _task_examples(task_type: str, n: int, shared: np.random.Generator, own: np.random.Generator, quality: float):
    # One run's examples of one task: (records, main score, extra metrics).
    z = shared.normal(size=n)  # per-example difficulty, identical for every run of this task
    level = shared.normal(0.8, 0.3)
    u = own.normal(size=n)
    ids = [f"q{i:05d}" for i in range(n)]
    if task_type == "STS":
        gold = np.round(shared.uniform(0, 5, size=n) * 5) / 5  # 0.2 steps: ties, as in real STS data
        sigma = 1.6 * np.exp(-quality)
        score = np.round(np.clip(0.3 + 0.12 * (gold + sigma * (0.6 * z + 0.8 * u)), -1, 1), 6)
        main = spearman(gold, score)
        pearson = float(pearson_rows(score[None, :], gold)[0])
        records = [{"id": i, "gold": float(g), "score": float(s)} for i, g, s in zip(ids, gold, score, strict=True)]
        extra = {"cosine_pearson": pearson, "cosine_spearman": main, "pearson": pearson, "spearman": main}
    elif task_type == "Retrieval":
        latent = level - 0.6 + 1.2 * z + quality + 0.5 * u
        ndcg = np.where(latent < -1.0, 0.0, np.round(_sigmoid(latent), 4))
        main = float(ndcg.mean())
        docs = shared.integers(0, 10_000, size=(n, 10))
        records = []
        for i, value, row in zip(ids, ndcg, docs, strict=True):
            top = np.round(np.sort(own.uniform(0.2, 0.9, size=10))[::-1], 4)
            records.append(
                {"id": i, "ndcg_at_10": float(value), "run": {f"d{d}": float(s) for d, s in zip(row, top, strict=True)}}
            )
        extra = {"ndcg_at_10": main}
    elif task_type == "Classification":
        labels = shared.integers(0, 4, size=n)
        correct = own.uniform(size=n) < _sigmoid(level + 0.6 + z + quality + 0.5 * u)
        wrong = (labels + own.integers(1, 4, size=n)) % 4
        pred = np.where(correct, labels, wrong)
        main = float(correct.mean())
        f1s = []
        for k in range(4):
            tp = np.sum((pred == k) & (labels == k))
            denom = np.sum(pred == k) + np.sum(labels == k)
            f1s.append(2 * tp / denom if denom else 0.0)
        records = [
            {"id": i, "label": f"class_{a}", "prediction": f"class_{b}"}
            for i, a, b in zip(ids, labels, pred, strict=True)
        ]
        extra = {"accuracy": main, "f1": float(np.mean(f1s))}
    elif task_type == "Clustering":
        labels = shared.integers(0, 5, size=n)
        perm = own.permutation(5)  # cluster ids mean nothing across runs
        correct = own.uniform(size=n) < _sigmoid(level + 0.2 + z + quality + 0.5 * u)
        cluster = np.where(correct, perm[labels], own.integers(0, 5, size=n))
        main = v_measure(labels, cluster)
        records = [
            {"id": i, "label": f"topic_{a}", "cluster": int(c)} for i, a, c in zip(ids, labels, cluster, strict=True)
        ]
        extra = {"v_measure": main}
    elif task_type == "Clustering.v2":
        labels = shared.integers(0, 5, size=n)
        drawn = shared.integers(0, n, size=(DRAWS, DRAW_FACTOR * n))  # the same draws for every run, as in mteb
        correct = own.uniform(size=n) < _sigmoid(level + 0.2 + z + quality + 0.5 * u)
        document_cluster = np.where(correct, labels, own.integers(0, 5, size=n))  # a document keeps its cluster
        records, scores = [], []
        for d, items in enumerate(drawn):
            cluster = own.permutation(5)[document_cluster[items]]  # each draw's k-means numbers its clusters anew
            scores.append(v_measure(labels[items], cluster))
            records.extend(
                {"id": f"L0:{d}:{p}", "label": f"topic_{labels[g]}", "cluster": int(c), "set": f"0:{d}", "item": int(g)}
                for p, (g, c) in enumerate(zip(items, cluster, strict=True))
            )
        main = float(np.mean(scores))
        extra = {"v_measure": main}
    else:
        raise ValueError(
            f"synthetic fixtures support STS, Retrieval, Classification, Clustering, Clustering.v2; got {task_type!r}"
        )
    return records, float(main), extra


def _task_result(task: str, main: float, extra: dict[str, float]) -> dict[str, Any]:
    # The dict TaskResult.to_disk writes (field order of TaskResult.model_dump, scores rounded to 6).
    entry = {
        **{k: round(float(v), 6) for k, v in extra.items()},
        "main_score": round(main, 6),
        "hf_subset": "default",
        "languages": ["eng-Latn"],
    }
    return {
        "dataset_revision": "synthetic-v1",
        "task_name": task,
        "mteb_version": "2.0.0",
        "scores": {"test": [entry]},
        "evaluation_time": 1.0,
        "kg_co2_emissions": None,
        "date": 1735689600.0,
        "evaluation_phases": None,
    }


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_synthetic_runs(
    root: str | Path,
    *,
    variants: Sequence[SyntheticVariant] = DEFAULT_VARIANTS,
    seeds: Sequence[int] = (0, 1),
    tasks: Sequence[tuple[str, str]] = DEFAULT_TASKS,
    sizes: Mapping[str, int] | None = None,
    seed: int = 0,
    backbone: str = "smollm2-135m",
    max_steps: int = 100,
) -> Path:
    """Write one run directory per (variant, seed) under `root`.

    Args:
        root: Folder to create the runs in (created if missing).
        variants: The synthetic models.
        seeds: Training seeds; one run per variant and seed.
        tasks: (task name, task type) pairs; types STS, Retrieval, Classification, Clustering, and
            Clustering.v2 (mteb's bootstrapped draws from a pool of documents, lines with `set` and `item`).
        sizes: Task type -> examples per task (defaults: `DEFAULT_SIZES`).
        seed: Seed of the generator; the same arguments give byte-identical files.
        backbone: Backbone name written to run.json.
        max_steps: Training steps written to run.json.

    Returns:
        `root`, as a Path.
    """
    root = Path(root)
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    for variant in variants:
        for run_seed in seeds:
            run_dir = root / f"{variant.name}_s{run_seed}"
            meta = {
                "variant": variant.name,
                "attention": variant.attention,
                "pooling": variant.pooling,
                "backbone": backbone,
                "seed": int(run_seed),
                "train_mix": "offline-mix",
                "train_mix_fingerprint": "sha256:synthetic",
                "max_steps": max_steps,
                "suite": "synthetic-v1",
                "embedlab_version": "0.1.0",
            }
            _write(run_dir / "run.json", json.dumps(meta, indent=2) + "\n")
            _write(
                run_dir / "config.yaml",
                f"# synthetic stand-in for the resolved LightningCLI config\nseed_everything: {run_seed}\n"
                f"model:\n  attention: {variant.attention}\n  pooling: {variant.pooling}\n"
                f"trainer:\n  max_steps: {max_steps}\n",
            )
            for task, task_type in tasks:
                shared = np.random.default_rng(np.random.SeedSequence(stable_seed(seed, "task", task)))
                own = np.random.default_rng(
                    np.random.SeedSequence(stable_seed(seed, "run", task, variant.name, run_seed))
                )
                jitter = 0.08 * own.normal()  # run-to-run variation of the same design
                quality = variant.effects.get(task_type.split(".")[0], 0.0) + jitter
                records, main, extra = _task_examples(task_type, sizes[task_type], shared, own, quality)
                header = {
                    "task_name": task,
                    "task_type": task_type.split(".")[0],
                    "main_score_name": MAIN_SCORE_NAME[task_type],
                    "split": "test",
                    "hf_subset": "default",
                }
                if "set" in records[0]:
                    header["sets"] = True
                lines = [json.dumps(header)] + [json.dumps(r) for r in records]
                _write(run_dir / "predictions" / f"{task}.jsonl", "\n".join(lines) + "\n")
                _write(run_dir / "results" / f"{task}.json", json.dumps(_task_result(task, main, extra), indent=2))
            cost = {
                "tokens_seen": 1_000_000 * max_steps,
                "wall_time_s": 60.0,
                "peak_memory_gb": 1.0,
                "trainable_parameters": 1_000_000,
            }
            _write(run_dir / "cost.json", json.dumps(cost, indent=2) + "\n")
            _write(run_dir / "DONE", "")
    return root
