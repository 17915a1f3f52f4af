"""One instruction template for training and evaluation: the training query of a source and the evaluation
query of the matching offline task are built alike (same prefix, same tokens), and the offline mix's
instructions are worded as the offline suite's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml

from embedlab.data import JsonlSource, TrainingMix
from embedlab.data.inspect import build_mix, load_configs
from embedlab.errors import EmbedlabError
from embedlab.instruction_template import TEMPLATES, instruction_prefix, resolve_template

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
OFFLINE_MIX = CONFIGS / "data" / "offline-mix.yaml"
BASE = [str(CONFIGS / "base.yaml"), str(CONFIGS / "backbones" / "tiny-random.yaml"), str(OFFLINE_MIX)]
# The offline-v1 task each source of the offline mix trains for (its instruction must be that task's).
SUITE_TASK = {"NewsArticlesSource": "BBCHeadlineRetrieval", "LeeBackgroundSource": "LeeDocSTS"}
PAIR = {"query": "query", "positive": "positive", "negatives": "negative"}


def test_template_names_and_errors(tmp_path):
    assert resolve_template(None) == resolve_template("e5") == "Instruct: {instruction}\nQuery: "
    assert resolve_template("paper") == "{instruction}"
    assert instruction_prefix("Find {it}", "e5") == "Instruct: Find {it}\nQuery: "  # braces kept as written
    assert instruction_prefix("Find it.", "paper") == "Find it."
    assert instruction_prefix(None) is None and instruction_prefix("") is None
    with pytest.raises(EmbedlabError, match=r"exactly once.*e5, paper"):
        resolve_template("{instruction} and {instruction}")
    with pytest.raises(EmbedlabError, match=r"TrainingMix instruction_template: .* uses \{task\}, \{query\}"):
        rows = tmp_path / "rows.jsonl"
        rows.write_text('{"query": "q", "positive": "p", "negative": "n"}\n')
        TrainingMix([JsonlSource(str(rows))], instruction_template="Instruct: {task}\nQuery: {query}")


@pytest.mark.parametrize("template", ["e5", "paper", "{instruction} | "], ids=["e5", "paper", "literal"])
def test_training_and_evaluation_queries_are_built_alike(template, tokenizer):
    """For each source of the offline mix: its training query (the mix's Item through the collator) and
    the evaluation query of its offline task (the packaged table, as the adapter looks it up) are the same
    string and the same tokens, for the same text, under the same template."""
    from mteb.types import PromptType

    from embedlab.eval.instructions import Instructions
    from embedlab.eval.offline import OFFLINE_TASKS

    # nothing truncated, so the whole instructed query is compared; e5 is also both sides' default
    overrides = {"query_max_length": 256, **({} if template == "e5" else {"instruction_template": template})}
    mix = build_mix(load_configs(BASE), **overrides)
    mix.connect(tokenizer)
    table = Instructions.load(template=None if template == "e5" else template)
    text = "Storm closes schools across the north"
    for source in mix.sources:
        task = OFFLINE_TASKS[SUITE_TASK[type(source).__name__]]
        side = PromptType.query if task.metadata.type == "Retrieval" else None
        evaluated = table.for_task(task.metadata, side)
        item = source.item({"query": text, "positive": "Schools across the north closed on Monday."}, PAIR, "test")
        trained = item.example.instruction
        assert trained == evaluated == instruction_prefix(source.instruction, template), source.name
        batch = mix.collator([replace(item.example, negatives=["A mined negative."])])  # as after mining
        expected = tokenizer([text], evaluated, 256)  # what the evaluation encoder tokenises: [1, T]
        torch.testing.assert_close(batch["query"]["input_ids"], expected["input_ids"])
        torch.testing.assert_close(batch["query"]["pool_mask"], expected["pool_mask"])
        assert int(expected["attention_mask"].sum()) < 256  # not truncated
    assert resolve_template(mix.hparams.instruction_template) == table.template == TEMPLATES.get(template, template)


def test_offline_mix_instructions_are_the_offline_suites():
    """Reads configs/data/offline-mix.yaml and embedlab/eval/instructions.yaml: every source's instruction is
    word for word the instruction of the offline-v1 task it trains for."""
    from embedlab.eval.instructions import DEFAULT_FILE
    from embedlab.eval.offline import OFFLINE_TASKS

    suite = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))["offline-v1"]
    sources = yaml.safe_load(OFFLINE_MIX.read_text(encoding="utf-8"))["data"]["init_args"]["sources"]
    assert sources, "the offline mix has no sources"
    for source in sources:
        kind = source["class_path"].rsplit(".", 1)[-1]
        assert kind in SUITE_TASK, f"{kind}: say which offline-v1 task it trains for"
        task = SUITE_TASK[kind]
        assert task in OFFLINE_TASKS and task in suite
        assert source["init_args"]["instruction"] == suite[task], kind
