"""The token store: a hit gives exactly a miss's and the plain TextTokenizer's tensors; a bad store is never used."""

from __future__ import annotations

import logging
import os
import pickle

import numpy as np
import pytest
import torch

from embedlab.data.collate import Example, PairCollator, one_storage
from embedlab.data.fast_tokenize import FastTokenizer
from embedlab.data.token_store import TokenStore, build_stores, read_store, tokenizer_fingerprint
from embedlab.models.byte_tokenizer import byte_level_tokenizer
from embedlab.models.tokenization import TextTokenizer
from tests.data.conftest import small_mix, take
from tests.data.test_collate import EDGE_CASES, news_bodies, smollm2_tokenizer
from tests.models.test_tokenization import BOS, bos_tokenizer

INSTRUCTION = "Instruct: find the article\nQuery: "
QUERIES = [f"query {i} " + "word " * (i % 7) for i in range(20)] + ["", "Ünïcödé query"]
DOCUMENTS = [f"document {i} " + "text " * (3 * i) for i in range(20)] + EDGE_CASES


class Counting(FastTokenizer):
    """A FastTokenizer that counts the texts it really tokenises."""

    tokenised = 0

    def encode(self, texts, prefixes, limit):
        self.tokenised += len(texts)
        return super().encode(texts, prefixes, limit)


def stores_for(tokenizer: TextTokenizer, folder, limits) -> dict[int, TokenStore]:
    base = tokenizer_fingerprint(tokenizer)
    return {limit: TokenStore.at(folder, {**base, "max_length": limit}) for limit in limits}


def build(tokenizer: TextTokenizer, folder, query_limit: int, document_limit: int, documents=DOCUMENTS):
    stores = stores_for(tokenizer, folder, dict.fromkeys((query_limit, document_limit)))
    texts = [(query_limit, INSTRUCTION, q) for q in QUERIES] + [(query_limit, "", q) for q in QUERIES[:5]]
    texts += [(document_limit, "", d) for d in documents]
    assert build_stores(stores, FastTokenizer(tokenizer).encode, texts, chunk=7) > 0
    return stores


def assert_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("multiple", [None, 8])
def test_hit_equals_miss_equals_text_tokenizer(tmp_path, side, multiple):
    tokenizer = TextTokenizer(byte_level_tokenizer(), max_length=40, padding_side=side, pad_to_multiple_of=multiple)
    stores = build(tokenizer, tmp_path, 12, 40)
    hit = Counting(tokenizer, stores=stores, cache_size=0)
    miss = Counting(tokenizer, cache_size=0)
    instructions = [INSTRUCTION] * len(QUERIES)
    for texts, prefix, limit in ((QUERIES, instructions, 12), (QUERIES[:5], None, 12), (DOCUMENTS, None, 40)):
        plain = tokenizer(texts, prefix, limit)
        assert_equal(hit(texts, prefix, limit), plain)
        assert_equal(miss(texts, prefix, limit), plain)
    assert hit.tokenised == 0 and miss.tokenised > 0  # every row came from the store
    mixed = QUERIES[:3] + ["a text the store never saw", "another one"]  # hits and misses in one batch
    assert_equal(hit(mixed, INSTRUCTION, 12), tokenizer(mixed, INSTRUCTION, 12))
    assert hit.tokenised == 2
    assert not hit(QUERIES[:2], "Instruct: another task\nQuery: ", 12)["pool_mask"][:, :4].any()  # keyed by instruction


@pytest.mark.parametrize("side", ["left", "right"])
def test_a_bos_tokenizer_never_pools_bos_on_any_path(tmp_path, side):
    tokenizer = TextTokenizer(bos_tokenizer(), max_length=40, padding_side=side)
    stores = build(tokenizer, tmp_path, 12, 40)
    hit = Counting(tokenizer, stores=stores, cache_size=0)
    miss = Counting(tokenizer, cache_size=0)
    for texts, prefix, limit in ((QUERIES, INSTRUCTION, 12), (QUERIES[:5], None, 12), (DOCUMENTS, None, 40)):
        plain = tokenizer(texts, prefix, limit)
        assert_equal(hit(texts, prefix, limit), plain)
        assert_equal(miss(texts, prefix, limit), plain)
        real = plain["attention_mask"].bool()  # [N, T]
        first = (real.cumsum(dim=1) == 1) & real  # [N, T], each row's first real token
        assert (plain["input_ids"][first] == BOS).all()
        assert not plain["pool_mask"][first].any()  # BOS is not pooled, with or without an instruction
        if prefix is None:  # every other real token is pooled
            assert plain["pool_mask"].sum().item() == real.sum().item() - len(texts)
    assert hit.tokenised == 0 and miss.tokenised > 0 and miss._direct  # store rows and the Rust path agree


def test_hit_equals_text_tokenizer_with_smollm2_on_real_news(tmp_path):
    tokenizer = smollm2_tokenizer()
    bodies = news_bodies(200)
    stores = build(tokenizer, tmp_path, 32, 128, documents=bodies + EDGE_CASES)
    fast = Counting(tokenizer, stores=stores)
    assert_equal(fast(bodies + EDGE_CASES, None, 128), tokenizer(bodies + EDGE_CASES, None, 128))
    assert_equal(fast(QUERIES, INSTRUCTION, 32), tokenizer(QUERIES, INSTRUCTION, 32))
    assert fast.tokenised == 0  # the store answered every row


def test_fast_path_matches_and_is_used(tmp_path):
    tokenizer = TextTokenizer(byte_level_tokenizer(), max_length=24)
    fast = FastTokenizer(tokenizer)
    assert_equal(fast(QUERIES, INSTRUCTION, 24), tokenizer(QUERIES, INSTRUCTION, 24))
    assert_equal(fast(DOCUMENTS, None, 24), tokenizer(DOCUMENTS, None, 24))
    assert fast._direct and fast._checked == {24}  # the Rust backend path, checked against the plain one


def flip_byte(path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_corrupt_or_mismatched_store_is_not_used(tmp_path, caplog):
    tokenizer = TextTokenizer(byte_level_tokenizer(), max_length=40)
    store = build(tokenizer, tmp_path, 40, 40)[40]
    assert TokenStore(store.path, store.fingerprint).open()
    size = store.path.stat().st_size

    flip_byte(store.path, size - 100)  # a token id or flag
    fresh = TokenStore(store.path, store.fingerprint)
    with caplog.at_level(logging.WARNING, "embedlab.data"):
        assert not fresh.open() and fresh.state == "bad"
    assert "checksum mismatch" in caplog.text
    fast = Counting(tokenizer, stores={40: fresh}, cache_size=0)
    assert_equal(fast(QUERIES, INSTRUCTION, 40), tokenizer(QUERIES, INSTRUCTION, 40))  # tokenised instead
    assert fast.tokenised == len(QUERIES)

    flip_byte(store.path, size - 100)  # restored
    assert TokenStore(store.path, store.fingerprint).open()
    other = {**store.fingerprint, "max_length": 41}
    with pytest.raises(Exception, match="fingerprint mismatch"):
        read_store(store.path, other)
    os.truncate(store.path, size - 7)
    assert not TokenStore(store.path, store.fingerprint).open()
    store.path.write_bytes(b"not a store at all, but long enough to have a header and a digest")
    with pytest.raises(Exception, match="wrong magic"):
        read_store(store.path, store.fingerprint)


def test_a_worker_rehashes_a_file_its_main_process_did_not_check(tmp_path):
    tokenizer = TextTokenizer(byte_level_tokenizer(), max_length=40)
    store = build(tokenizer, tmp_path, 40, 40)[40]
    assert store.open(full=True)
    flip_byte(store.path, store.path.stat().st_size - 100)
    os.utime(store.path, ns=(1, 1))  # no longer the file the main process checked: the worker re-hashes it
    worker_copy = pickle.loads(pickle.dumps(store))  # as a spawned worker receives it
    assert worker_copy.state == "closed" and not worker_copy.usable()


def test_writes_are_atomic(tmp_path, monkeypatch):
    tokenizer = TextTokenizer(byte_level_tokenizer(), max_length=40)
    stores = stores_for(tokenizer, tmp_path, [40])

    def fail(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        build_stores(stores, FastTokenizer(tokenizer).encode, [(40, "", d) for d in DOCUMENTS])
    assert list(tmp_path.iterdir()) == []  # no store, no partial file
    monkeypatch.undo()
    build_stores(stores, FastTokenizer(tokenizer).encode, [(40, "", d) for d in DOCUMENTS])
    assert [p.name for p in tmp_path.iterdir()] == [stores[40].path.name]


def test_the_mix_builds_uses_and_repairs_its_store(two_sources, tmp_path, tokenizer, caplog):
    plain = small_mix(two_sources, tokenizer, token_store=False, query_max_length=16)
    expected = take(plain, 12)
    mix = small_mix(two_sources, tokenizer, token_store_dir=str(tmp_path / "tokens"), query_max_length=16)
    mix.prepare_data()
    stores = mix.collator.tokenizer.stores
    assert sorted(stores) == [16, 48] and all(s.path.is_file() for s in stores.values())
    mix.setup("fit")
    counting = Counting(tokenizer, stores=stores)
    mix.collator.tokenizer = counting
    got = take(mix, 12)
    assert counting.tokenised == 0  # every text of a local source is in the store
    for a, b in zip(expected, got, strict=True):
        for part in ("query", "documents"):
            assert_equal(a["batch"][part], b["batch"][part])
        assert torch.equal(a["batch"]["document_keys"], b["batch"]["document_keys"])

    path = stores[48].path
    flip_byte(path, path.stat().st_size - 50)
    again = small_mix(two_sources, tokenizer, token_store_dir=str(tmp_path / "tokens"), query_max_length=16)
    with caplog.at_level(logging.WARNING, "embedlab.data"):
        again.prepare_data()  # detects the damage and rebuilds
    assert "is not used" in caplog.text
    assert TokenStore(path, stores[48].fingerprint).open(full=True)


def test_the_store_is_keyed_by_the_tokenizer_settings(two_sources, tmp_path):
    names = set()
    for settings in ({}, {"append_eos": False}, {"mask_instruction": False}, {"max_length": 40}):
        tokenizer = TextTokenizer(byte_level_tokenizer(), **{"max_length": 48, **settings})
        mix = small_mix(two_sources, tokenizer, token_store_dir=str(tmp_path))
        names.add(mix.collator.tokenizer.stores[tokenizer.max_length].path.name)
    assert len(names) == 4


def test_batches_leave_a_worker_as_views_of_one_buffer(tokenizer):
    examples = [Example(f"q{i}", f"positive {i}", [f"neg {i}"], "s", INSTRUCTION) for i in range(3)]
    batch = PairCollator(tokenizer, num_negatives=1)(examples)
    copy = {k: ({kk: vv.clone() for kk, vv in v.items()} if isinstance(v, dict) else v) for k, v in batch.items()}
    one_storage(batch)
    tensors = [*batch["query"].values(), *batch["documents"].values(), batch["query_keys"], batch["document_keys"]]
    assert len({t.untyped_storage().data_ptr() for t in tensors}) == 1
    for part in ("query", "documents"):
        assert_equal(batch[part], copy[part])
    assert torch.equal(batch["query_keys"], copy["query_keys"])
    assert np.all([t.is_contiguous() for t in tensors])


def test_a_fit_builds_the_store_before_training(two_sources, tmp_path, token_store_dir):
    from tests.data.test_resume import fit

    _, mix, batches = fit(two_sources, 2, 0, tmp_path)
    stores = mix.collator.tokenizer.stores.values()
    assert len(batches) == 2 and stores
    assert all(store.state == "open" and store.rows > 0 and store.path.parent == token_store_dir for store in stores)
