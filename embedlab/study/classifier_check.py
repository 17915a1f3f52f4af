"""Does standardising embeddings before the classifier change which variant ranks first on classification?

mteb's logistic regression (C=1, 100 iterations) on a decoder's anisotropic embeddings can understate
a model. This check evaluates every trained checkpoint of a study again on the suite's classification
tasks with `standardised-logistic` (embedlab.eval.classifiers), writing ordinary run directories under
`<study>/classification/standardised-logistic/`, and compares the two rankings of the variants.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
from scipy.stats import kendalltau

from embedlab.analysis.runs import load_runs
from embedlab.analysis.tables import to_markdown
from embedlab.study.preset import StudyPreset

CLASSIFIER = "standardised-logistic"
# the check's runs are scored on a part of the suite and say so in run.json
MISMATCH = ("train_mix", "train_mix_fingerprint", "max_steps", "suite")


def classification_tasks(run_dir: Path) -> list[str]:
    """The classification tasks a finished run was scored on (from its predictions' headers via the analysis)."""
    scores = load_runs([run_dir]).scores
    return sorted(scores.loc[scores.category == "Classification", "task"].unique())


def evaluate_standardised(preset: StudyPreset, trained: dict[str, Path], out: Path) -> dict[str, Path]:
    """Evaluate each trained checkpoint with the standardised classifier (runs already finished are kept).

    Args:
        preset: The study (its evaluation options: max length, batch size).
        trained: variant -> its trained run directory (with `checkpoints/last.ckpt`).
        out: Where the new run directories go.

    Returns:
        variant -> the new run directory.
    """
    runs = {}
    for variant, run in trained.items():
        target = out / run.name
        runs[variant] = target
        if (target / "DONE").is_file():
            continue
        meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
        command = [
            sys.executable, "-m", "embedlab.cli", "evaluate",
            "--checkpoint", str(run / "checkpoints" / "last.ckpt"),
            "--suite", ",".join(classification_tasks(run)),
            "--classifier", CLASSIFIER,
            # encode as the study did (runs from before the option was recorded encoded unmerged)
            "--merge-lora", "always" if meta.get("lora_merged") else "never",
            "--variant", variant, "--seed", str(meta["seed"]),
            "--max-length", str(preset.evaluation.get("max_length", 512)),
            "--batch-size", str(preset.evaluation.get("batch_size", 32)),
            "--run-dir", str(target), "--quiet", "--overwrite",
        ]  # fmt: skip
        print(f"classification with {CLASSIFIER}: {variant}", flush=True)
        subprocess.run(command, check=True)
    return runs


def ranking_table(trained: dict[str, Path], standardised: dict[str, Path]) -> tuple[pd.DataFrame, float]:
    """Classification mean (%) and rank of every variant under both classifiers, and Kendall's tau of the ranks.

    Args:
        trained: variant -> run scored with mteb's classifier.
        standardised: variant -> run scored with the standardised one.
    """
    columns = {}
    for name, runs in (("logistic", trained), (CLASSIFIER, standardised)):
        scores = load_runs(list(runs.values()), allow_mismatch=MISMATCH).scores
        means = scores[scores.category == "Classification"].groupby("variant")["score"].mean() * 100
        columns[f"{name} %"] = means
        columns[f"{name} rank"] = means.rank(ascending=False, method="min").astype(int)
    table = pd.DataFrame(columns).sort_values("logistic rank")
    tau = float(kendalltau(table["logistic %"], table[f"{CLASSIFIER} %"]).statistic)
    return table, tau


def ranking_markdown(table: pd.DataFrame, tau: float) -> str:
    """The check's section of the findings page."""
    same = (table["logistic rank"] == table[f"{CLASSIFIER} rank"]).all()
    leader = table.index[table["logistic rank"] == 1].tolist(), table.index[table[f"{CLASSIFIER} rank"] == 1].tolist()
    verdict = (
        f"Standardising does not change the ranking (Kendall's tau {tau:+.2f}): the headline tables use mteb's "
        "classifier."
        if same
        else f"Standardising changes the ranking (Kendall's tau {tau:+.2f}; first: {', '.join(leader[0])} with mteb's "
        f"classifier, {', '.join(leader[1])} standardised). The headline tables use mteb's classifier, as the "
        "paper and the leaderboard do; this table gives both."
    )
    shown = table.round(2).astype({c: "Int64" for c in table.columns if c.endswith(" rank")})
    return f"{to_markdown(shown.rename_axis('Model'))}\n\n{verdict}\n"
