"""The instruction table: the paper's rule (every text of every task, reranking documents included, except
retrieval documents), fallbacks, templates, and the paper's 47 tasks all present."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from embedlab.errors import EmbedlabError
from embedlab.eval.instructions import Instructions, load_instructions
from embedlab.eval.suites import PAPER_TASKS


def meta(name: str, type: str = "STS", prompt=None):
    return SimpleNamespace(name=name, type=type, prompt=prompt)


@pytest.fixture(scope="module")
def table() -> Instructions:
    return Instructions.load()


def test_symmetric_tasks_instruct_every_text(table):
    assert table.for_task(meta("STS12"), None) == "Instruct: Retrieve semantically similar text.\nQuery: "
    assert table.for_task(meta("ArxivClusteringP2P", "Clustering"), None).startswith(
        "Instruct: Identify the main and secondary"
    )


def test_retrieval_instructs_queries_only(table):
    assert table.for_task(meta("SciFact", "Retrieval"), "query") == (
        "Instruct: Given a scientific claim, retrieve documents that support or refute the claim.\nQuery: "
    )
    assert table.for_task(meta("SciFact", "Retrieval"), "document") is None
    assert table.for_task(meta("SomeTask", "InstructionRetrieval", "Find it"), "document") is None


def test_reranking_instructs_queries_and_documents(table):
    """The paper's run_mteb.py puts the prompt on every text of a reranking task."""
    expected = table.template.replace("{instruction}", "Retrieve duplicate questions from AskUbuntu forum")
    for side in ("query", "document", None):
        assert table.for_task(meta("AskUbuntuDupQuestions", "Reranking"), side) == expected
    # a task outside the table: the mteb prompt, then the type fallback, on documents too
    prompted = meta("SomeReranking", "Reranking", "Rank them")
    assert table.for_task(prompted, "document") == table.for_task(prompted, "query") == "Instruct: Rank them\nQuery: "
    assert table.for_task(meta("SomeReranking", "Reranking"), "document") == (
        "Instruct: Given a query, retrieve documents that answer the query\nQuery: "
    )
    # a mapping still gives each side its own (here: none for documents)
    assert table.for_task(meta("SomeReranking", "Reranking", {"query": "Rank them"}), "document") is None


def test_fallbacks_task_prompt_then_type(table):
    found = table.for_task(meta("SomeHubTask", "Retrieval", {"query": "Find it"}), "query")
    assert found == "Instruct: Find it\nQuery: "
    assert table.for_task(meta("SomeHubTask", "Classification"), None) == "Instruct: Classify the given text\nQuery: "
    assert table.for_task(meta("SomeHubTask", "Retrieval"), "document") is None


def test_template_names_literals_and_none(table):
    assert table.template == "Instruct: {instruction}\nQuery: "  # the training mix's default, resolved
    paper_exact = Instructions.load(template="paper")
    assert paper_exact.template == "{instruction}"
    assert paper_exact.for_task(meta("STS12"), None) == "Retrieve semantically similar text."
    spaced = Instructions.load(template="{instruction} ")
    assert spaced.for_task(meta("STS12"), None) == "Retrieve semantically similar text. "
    braces = Instructions(tasks={"T": "Answer {in braces}"})  # instructions are not format strings
    assert braces.for_task(meta("T"), None) == "Instruct: Answer {in braces}\nQuery: "
    assert load_instructions("none") is None and load_instructions(None) is None
    with pytest.raises(EmbedlabError, match="must contain"):
        Instructions(template="no placeholder")
    with pytest.raises(EmbedlabError, match=r"uses \{task\}, \{query\}.*e5, paper"):
        Instructions(template="Instruct: {task}\nQuery: {query}")


def test_the_paper_table_covers_its_47_tasks(table):
    import yaml

    from embedlab.eval.instructions import DEFAULT_FILE

    paper = yaml.safe_load(DEFAULT_FILE.read_text())["paper"]
    names = [t for group in PAPER_TASKS.values() for t in group]
    assert len(names) == 47 and set(paper) == set(names)


def test_custom_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "instr.yaml"
    bad.write_text("tasks:\n  MyTask: {query: q, passage: p}\n")
    with pytest.raises(EmbedlabError, match=r"instr.yaml: tasks.MyTask"):
        Instructions.load(bad)


class Recorder:
    """A TextEncoder that records each call's texts and instruction; a text's vector is its length and 1."""

    name = "test/recorder"
    device = torch.device("cpu")

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str | None]] = []

    def embed(self, texts, instruction):
        self.calls.append((list(texts), instruction))
        return torch.tensor([[float(len(t)), 1.0] for t in texts])  # [B, 2]


def test_mteb_reranking_documents_get_the_instruction():
    """Through mteb 2's own evaluation of its mock tasks: the reranking task's candidate documents are
    encoded with the instruction, the retrieval task's corpus without (the same texts, the same table)."""
    from mteb.mocks.mock_tasks.reranking import MockRerankingTask
    from mteb.mocks.mock_tasks.retrieval import MockRetrievalTask

    from embedlab.eval.adapter import MTEBAdapter
    from embedlab.eval.evaluator import MTEBEvaluator

    table = Instructions(tasks={"MockRerankingTask": "Rank the answers", "MockRetrievalTask": "Find the answers"})
    documents = {"Title of d1 This is a positive sentence", "Title of d2 This is another positive sentence"}
    queries = {"This is a test sentence", "This is another test sentence"}
    ranked = table.template.replace("{instruction}", "Rank the answers")  # whatever the template, as for queries
    for task, instruction, document_instruction in (
        (MockRerankingTask(), ranked, ranked),
        (MockRetrievalTask(), table.template.replace("{instruction}", "Find the answers"), None),
    ):
        encoder = Recorder()
        report = MTEBEvaluator([task]).run(MTEBAdapter(encoder, instructions=table, precision="fp32", cache=False))
        assert report.scores[0].metric == ("map_at_1000" if task.metadata.type == "Reranking" else "ndcg_at_10")
        seen: dict[str, set] = {}
        for texts, given in encoder.calls:
            for text in texts:
                seen.setdefault(text, set()).add(given)
        assert set(seen) == queries | documents, task.metadata.name
        assert all(seen[q] == {instruction} for q in queries), task.metadata.name
        assert all(seen[d] == {document_instruction} for d in documents), task.metadata.name


def test_mteb_reranking_tasks_score_map_at_1000():
    """What the docs say (instructions.yaml header): mteb 2 scores the paper's reranking tasks with MAP@1000."""
    import mteb

    from embedlab.eval.suites import PAPER_TASKS

    scores = {t.metadata.name: t.metadata.main_score for t in mteb.get_tasks(tasks=list(PAPER_TASKS["Reranking"]))}
    assert scores == {
        "AskUbuntuDupQuestions": "map_at_1000",
        "MindSmallReranking": "max_over_subqueries_map_at_1000",
        "SciDocsRR": "map_at_1000",
        "StackOverflowDupQuestions": "map_at_1000",
    }


def test_evaluation_writes_instructions_with_the_training_template():
    """`embedlab test` / `evaluate` / MTEBCallback default to the checkpoint's training template; an explicit
    evaluation template wins; a checkpoint's older `{task}` / `{query}` form reads as the same prefix."""
    from embedlab.eval.callback import MTEBCallback
    from embedlab.eval.options import EvaluationOptions
    from embedlab.instruction_template import trained_template

    assert trained_template({"instruction_template": "paper", "batch_size": 4}) == "{instruction}"  # checkpoint
    cli_config = {"class_path": "embedlab.data.TrainingMix", "init_args": {"instruction_template": "e5"}}
    assert trained_template(cli_config) == "Instruct: {instruction}\nQuery: "
    assert trained_template({"instruction_template": "Instruct: {task}\nQuery: {query}"}) == (
        "Instruct: {instruction}\nQuery: "
    )
    assert trained_template(None) is None and trained_template({"class_path": "embedlab.data.JsonlPairs"}) is None
    trained = EvaluationOptions().adapter(Recorder(), precision="fp32", trained_template="{instruction}")
    assert trained.instructions.template == "{instruction}"
    explicit = EvaluationOptions(instruction_template="e5").adapter(Recorder(), trained_template="{instruction}")
    assert explicit.instructions.template == "Instruct: {instruction}\nQuery: "
    assert EvaluationOptions().adapter(Recorder()).instructions.template == "Instruct: {instruction}\nQuery: "
    trainer = SimpleNamespace(datamodule=SimpleNamespace(hparams={"instruction_template": "paper"}))
    assert MTEBCallback(tasks="LeeDocSTS")._template(trainer) == "{instruction}"
    assert MTEBCallback(tasks="LeeDocSTS", instruction_template="e5")._template(trainer) == "e5"
    assert MTEBCallback(tasks="LeeDocSTS")._template(SimpleNamespace(datamodule=None)) is None
