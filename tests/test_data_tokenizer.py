import random

import pytest

from data import build, tokenizer
from data.config import load_config

KINDS = ("pretrain", "decl", "exec", "exec_cot")


@pytest.fixture(scope="module")
def docs_and_enc():
    _, cfg = load_config("configs/corpus_tiny.py")
    behs = build.make_behaviours(cfg, 0)
    mixtures = build.make_docs(behs, cfg, 0)
    every = [d for docs in mixtures.values() for d in docs]
    ranks = tokenizer.train_bpe(["".join(t for t, _ in d.segments) for d in every], cfg["bpe_merges"])
    return every, ranks, tokenizer.make_encoding(ranks), behs


def test_round_trip_on_every_document_kind(docs_and_enc):
    every, _, enc, _ = docs_and_enc
    assert {d.kind for d in every} >= set(KINDS) and {d.domain for d in every} == {"programs", "grammars"}
    denc = tokenizer.DocEncoder(enc)
    for d, (toks, w) in zip(every, denc.encode_many([d.segments for d in every])):
        text = "".join(t for t, _ in d.segments)
        assert enc.decode(toks) == "<|bos|>" + text + "<|eos|>"
        assert len(w) == len(toks) and toks[0] == denc.bos and toks[-1] == denc.eos


def test_weights_cover_exactly_the_trained_text(docs_and_enc):
    every, _, enc, _ = docs_and_enc
    denc = tokenizer.DocEncoder(enc)
    for d, (toks, w) in zip(every, denc.encode_many([d.segments for d in every])):
        trained = enc.decode([t for t, x in zip(toks, w) if x > 0])
        expect = "".join(t for t, x in d.segments if x > 0) + "<|eos|>"
        assert trained == expect, d.kind
        if d.kind == "exec":
            assert trained.startswith(" ") and trained.count("\n") == 0


def test_digits_and_quoted_letters_are_single_tokens(docs_and_enc):
    _, ranks, enc, _ = docs_and_enc
    assert not [t for t in ranks if len(t) > 1 and any(chr(b).isdigit() for b in t)]
    toks = enc.encode_ordinary("return y % 10 = 1234 and s = 'abcab'")
    pieces = [enc.decode([t]) for t in toks]
    assert all(sum(c.isdigit() for c in p) <= 1 for p in pieces)
    assert "".join(pieces[-6:]) == "abcab'" and pieces[-6:-1] == list("abcab")


def test_save_load_offline_and_specials(tmp_path, docs_and_enc):
    _, ranks, enc, _ = docs_and_enc
    info = tokenizer.save(ranks, str(tmp_path))
    manifest = {"vocab_size": enc.n_vocab, "tokenizer": info}
    enc2 = tokenizer.load(str(tmp_path), manifest)
    text = "def f(x):\n    return x % 7\n"
    assert enc2.encode_ordinary(text) == enc.encode_ordinary(text) and enc2.n_vocab == enc.n_vocab
    assert info["special_tokens"]["<|bos|>"] == len(ranks) and enc2.decode([len(ranks) + 1]) == "<|eos|>"
    with pytest.raises(tokenizer.CorpusError, match="tokenizer"):
        tokenizer.load(str(tmp_path), dict(manifest, tokenizer=dict(info, pat_str=r"\w+")))


def test_training_is_deterministic():
    texts = [f"def f{i}(x):\n    return x * {i % 7}\n" for i in range(300)]
    random.Random(0).shuffle(texts)
    assert tokenizer.train_bpe(texts, 80) == tokenizer.train_bpe(list(reversed(texts)), 80)
