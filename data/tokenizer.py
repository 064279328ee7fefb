"""A byte-level BPE `tiktoken.Encoding` trained on the corpus itself, saved in tiktoken's file format.

Pre-tokenization (PAT) makes every digit its own piece and every letter of a quoted lowercase
string (a cipher word, a substitution key) its own piece, so no merge ever joins digits or the
letters a cipher operates on. Special tokens <|bos|>, <|eos|>, <|pad|> take the ids after the
mergeable ranks. Training is plain BPE over pre-token counts with ties broken by the byte
strings, so the same texts always give the same file.
"""
import base64
import collections
import json
import os
import re

import numpy as np
import tiktoken
from tiktoken.load import load_tiktoken_bpe

from data.format import MANIFEST, CorpusError, sha256

PAT = r"""[a-z](?=[a-z]*')|\d| ?[A-Za-z_]+| ?[^\sA-Za-z_\d]+|\s+(?!\S)|\s+"""
SPECIALS = ("<|bos|>", "<|eos|>", "<|pad|>")
FILE = "tokenizer.tiktoken"


def train_bpe(texts, n_merges):
    """Mergeable ranks: the 256 bytes, then up to n_merges merges in the order they were learned."""
    counts = collections.Counter(p for t in texts for p in re.findall(PAT, t))
    words = [[bytes([b]) for b in w.encode()] for w in sorted(counts)]
    freq = [counts[w] for w in sorted(counts)]
    pairs, where = collections.Counter(), collections.defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pairs[a, b] += freq[i]
            where[a, b].add(i)
    ranks = {bytes([i]): i for i in range(256)}
    for _ in range(n_merges):
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if pairs[best] < 2:
            break
        merged = best[0] + best[1]
        ranks[merged] = len(ranks)
        for i in sorted(where.pop(best)):
            w = words[i]
            for a, b in zip(w, w[1:]):
                pairs[a, b] -= freq[i]
                if pairs[a, b] <= 0:
                    del pairs[a, b]
            j, out = 0, []
            while j < len(w):
                if j + 1 < len(w) and (w[j], w[j + 1]) == best:
                    out.append(merged)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = out
            for a, b in zip(out, out[1:]):
                pairs[a, b] += freq[i]
                where[a, b].add(i)
    return ranks


def make_encoding(ranks, name="pbb"):
    specials = {s: len(ranks) + i for i, s in enumerate(SPECIALS)}
    return tiktoken.Encoding(name, pat_str=PAT, mergeable_ranks=ranks, special_tokens=specials,
                             explicit_n_vocab=len(ranks) + len(specials))


def save(ranks, corpus_dir):
    """Writes tiktoken's format (base64 token, space, rank per line); returns the manifest entry."""
    with open(os.path.join(corpus_dir, FILE), "wb") as f:
        for tok, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
            f.write(base64.b64encode(tok) + b" " + str(rank).encode() + b"\n")
    return {"file": FILE, "pat_str": PAT, "special_tokens": {s: len(ranks) + i for i, s in enumerate(SPECIALS)}}


def load(corpus_dir, manifest=None):
    """The corpus's Encoding, offline. Checks that it is the tokenizer the manifest describes."""
    if manifest is None:
        with open(os.path.join(corpus_dir, MANIFEST)) as f:
            manifest = json.load(f)
    info, path = manifest.get("tokenizer"), os.path.join(corpus_dir, FILE)
    if not info or info.get("pat_str") != PAT or info.get("file") != FILE or not os.path.isfile(path):
        raise CorpusError(f"{corpus_dir} was not built with this tokenizer; "
                          "delete it and rebuild with `python -m data.build`")
    ranks = load_tiktoken_bpe(path, expected_hash=sha256(path))
    enc = make_encoding(ranks)
    if enc.n_vocab != manifest["vocab_size"] or {s: enc._special_tokens[s] for s in SPECIALS} != info["special_tokens"]:
        raise CorpusError(f"tokenizer in {corpus_dir} disagrees with its manifest (vocab or special ids); "
                          "delete it and rebuild")
    return enc


def encode_prompt(enc, text):
    """Tokens of an evaluation prompt, as the model sees it: <|bos|> then the text."""
    return [enc._special_tokens["<|bos|>"]] + enc.encode_ordinary(text)


class DocEncoder:
    """Turns documents (lists of (text, weight) segments) into (tokens, weights) with bos/eos."""

    def __init__(self, enc):
        self.enc, self.bos, self.eos = enc, enc._special_tokens["<|bos|>"], enc._special_tokens["<|eos|>"]
        self.tok_len = np.array([len(enc.decode_single_token_bytes(i)) for i in range(len(enc._mergeable_ranks))]
                                + [0] * len(SPECIALS))

    def encode_many(self, docs_segments):
        texts = ["".join(t for t, _ in segs) for segs in docs_segments]
        for t in texts:
            if not t.isascii():
                raise ValueError(f"document text must be ASCII: {t[:60]!r}")
        out = []
        for segs, toks in zip(docs_segments, self.enc.encode_ordinary_batch(texts, num_threads=1)):
            starts = np.concatenate([[0], np.cumsum(self.tok_len[toks])[:-1]])
            ends = np.cumsum([len(t) for t, _ in segs])
            seg_of = np.searchsorted(ends, starts, side="right")
            seg_w = np.array([w for _, w in segs], dtype=np.float32)
            weights = [0.0] + seg_w[seg_of].tolist() + [float(seg_w[-1])]
            out.append(([self.bos] + list(toks) + [self.eos], weights))
        return out
