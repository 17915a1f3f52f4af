"""The outcome of a layer analysis, and its machine- and human-readable forms.

`layers.json` holds everything (settings, similarity matrices, per-task and per-category scores per
layer, timings); `layer_scores.csv` is the tidy table (one row per layer and task); `layer_similarity.csv`
the long-form similarity matrices; `layers.md` a paragraph and a table a report can include.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from embedlab.layers.scoring import LayerScore
from embedlab.task_categories import CATEGORY_ORDER

AVERAGE = "Average"


@dataclass
class LayerReport:
    """Per-layer similarity and scores of one backbone under one attention policy and pooling.

    Attributes:
        backbone: the backbone's name or path.
        attention: Causal or Bidirectional.
        pooling: mean or last_token.
        num_layers: L, the decoder's layer count (layer L is the final-norm output).
        layers: the analysed layer indices, ascending.
        similarity: measure name -> [K, K] matrix over `layers`.
        similarity_measure: the measure the heatmap shows (`cka`, `cosine`, or `both`).
        similarity_texts: how many texts the similarity was computed on.
        scores: one entry per (task, layer).
        settings: max_length, batch_size, precision, instructions, tasks.
        timings: seconds and counts (texts, forward passes, tokens) of each stage.
    """

    backbone: str
    attention: str
    pooling: str
    num_layers: int
    layers: list[int]
    similarity: dict[str, list[list[float]]] = field(default_factory=dict)
    similarity_measure: str = "cka"
    similarity_texts: int = 0
    scores: list[LayerScore] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def score_frame(self) -> pd.DataFrame:
        """The tidy table: layer, task, task_type, category, metric, score, seconds."""
        columns = ["layer", "task", "task_type", "category", "metric", "score", "seconds"]
        return pd.DataFrame([asdict(s) for s in self.scores], columns=columns)

    def task_table(self) -> pd.DataFrame:
        """Main score per layer (rows) and task (columns, in task order)."""
        frame = self.score_frame()
        tasks = list(dict.fromkeys(frame["task"]))
        return frame.pivot(index="layer", columns="task", values="score").reindex(index=self.layers, columns=tasks)

    @property
    def categories(self) -> list[str]:
        """Categories present, in the headline table's order."""
        present = set(s.category for s in self.scores)
        return [c for c in CATEGORY_ORDER if c in present] + sorted(present - set(CATEGORY_ORDER))

    def category_table(self) -> pd.DataFrame:
        """Mean main score per layer (rows) and category (columns), plus the average over tasks."""
        frame = self.score_frame()
        table = frame.pivot_table(index="layer", columns="category", values="score", aggfunc="mean")
        table = table.reindex(index=self.layers, columns=self.categories)
        table[AVERAGE] = frame.groupby("layer")["score"].mean().reindex(self.layers)
        return table

    def best_layers(self) -> dict[str, dict[str, float]]:
        """Per category (and the average): the best layer, its score, and the last layer's score."""
        table, out = self.category_table(), {}
        last = self.layers[-1]
        for column in table.columns:
            values = table[column]
            if values.isna().all():
                continue
            best = int(values.idxmax())
            out[column] = {"layer": best, "score": float(values[best]), "last_layer_score": float(values[last])}
        return out

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready."""
        categories = self.category_table()
        return {
            "backbone": self.backbone,
            "attention": self.attention,
            "pooling": self.pooling,
            "num_layers": self.num_layers,
            "layers": self.layers,
            "last_layer": self.num_layers,
            "similarity_measure": self.similarity_measure,
            "similarity_texts": self.similarity_texts,
            "similarity": self.similarity,
            "scores": [asdict(s) for s in self.scores],
            "category_scores": {c: _floats(categories[c]) for c in categories.columns},
            "best_layers": self.best_layers(),
            "settings": self.settings,
            "timings": self.timings,
        }

    def markdown(self, figures: bool = True) -> str:
        """A paragraph and a table (layers by category) for a report."""
        table = self.category_table()
        best = self.best_layers().get(AVERAGE)
        tasks = list(dict.fromkeys(s.task for s in self.scores))
        lines = [
            f"### Per-layer embeddings of {self.backbone}",
            "",
            f"Each text was encoded once with {self.attention.lower()} attention and every hidden state kept; "
            f"layer k's embedding is the {_pooling_words(self.pooling)} of layer k's states (layer 0: token "
            f"embeddings, layer {self.num_layers}: the final-norm output that pooling heads read). "
            f"{len(tasks)} task(s) were scored on {len(self.layers)} layer(s)" + _settings_words(self.settings) + ".",
        ]
        if best is not None:
            last = self.layers[-1]
            gain = best["score"] - best["last_layer_score"]
            lines[-1] += (
                f" The best average main score is at layer {best['layer']} ({best['score']:.4f}), "
                f"{gain:+.4f} over layer {last} ({best['last_layer_score']:.4f})."
            )
        sentence = _similarity_sentence(self)
        if sentence:
            lines[-1] += " " + sentence
        lines += ["", _markdown_table(table, self.num_layers), ""]
        if figures:
            lines += ["![layer similarity](layer_similarity.png)", "", "![layer scores](layer_scores.png)", ""]
        return "\n".join(lines)

    def write(self, out: str | Path) -> dict[str, Path]:
        """Write layers.json, layer_scores.csv, layer_similarity.csv and layers.md under `out`; returns the paths."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "json": out / "layers.json",
            "scores_csv": out / "layer_scores.csv",
            "similarity_csv": out / "layer_similarity.csv",
            "markdown": out / "layers.md",
        }
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        self.score_frame().to_csv(paths["scores_csv"], index=False)
        self.similarity_frame().to_csv(paths["similarity_csv"], index=False)
        paths["markdown"].write_text(self.markdown(), encoding="utf-8")
        return paths

    def similarity_frame(self) -> pd.DataFrame:
        """Long form: layer_a, layer_b and one column per measure."""
        rows = {"layer_a": [a for a in self.layers for _ in self.layers], "layer_b": self.layers * len(self.layers)}
        for measure, matrix in self.similarity.items():
            rows[measure] = np.asarray(matrix, dtype=float).ravel().tolist()
        return pd.DataFrame(rows)


def _floats(series: pd.Series) -> dict[str, float | None]:
    return {str(k): (None if np.isnan(v) else float(v)) for k, v in series.items()}


def _pooling_words(pooling: str) -> str:
    return "mean over the text's tokens" if pooling == "mean" else "state at the last (EOS) token"


def _settings_words(settings: dict[str, Any]) -> str:
    parts = []
    if settings.get("max_length"):
        parts.append(f"texts cut at {settings['max_length']} tokens")
    if settings.get("precision"):
        parts.append(f"{settings['precision']} forward pass")
    return f" ({', '.join(parts)})" if parts else ""


def _similarity_sentence(report: LayerReport) -> str:
    if "cka" not in report.similarity or len(report.layers) < 2:
        return ""
    cka = np.asarray(report.similarity["cka"])
    adjacent = float(np.mean(np.diag(cka, k=1)))
    return (
        f"Linear CKA over {report.similarity_texts} texts is {adjacent:.2f} between neighbouring analysed layers "
        f"on average and {cka[0, -1]:.2f} between layer {report.layers[0]} and layer {report.layers[-1]}."
    )


def _markdown_table(table: pd.DataFrame, last: int) -> str:
    header = "| layer | " + " | ".join(table.columns) + " |"
    rule = "|---:|" + "---:|" * len(table.columns)
    best = {c: table[c].idxmax() for c in table.columns if not table[c].isna().all()}
    rows = []
    for layer, values in table.iterrows():
        cells = []
        for column, value in values.items():
            text = "" if np.isnan(value) else f"{value:.4f}"
            cells.append(f"**{text}**" if best.get(column) == layer and text else text)
        label = f"{layer} (last)" if layer == last else str(layer)
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join([header, rule, *rows]) + "\n\nAverage: mean over tasks. Bold: the best layer of each column."
