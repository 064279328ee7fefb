"""The on-disk format of a corpus: the one contract between the corpus builder and train.py.

A corpus directory holds `manifest.json` and, for every named document list ("mixture") NAME:
    NAME.tokens.npy   int32   [N]    every document's tokens, concatenated
    NAME.weights.npy  float32 [N]    loss weight of predicting that token (0 = not trained on)
    NAME.offsets.npy  int64   [D+1]  document d is tokens[offsets[d]:offsets[d+1]]
The weight of a document's first token is never used (nothing predicts it from within the
document). manifest.json holds at least {"vocab_size": int, "files": {filename: sha256}}; the
builder adds whatever else it wants (config, seeds, counts).
"""
import hashlib
import json
import os

import numpy as np

MANIFEST = "manifest.json"


class CorpusError(Exception):
    """A corpus directory that is missing, corrupt or foreign. The message says what to do."""


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _save(path, array):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        np.save(f, array)
    os.replace(tmp, path)


def write_docs(corpus_dir, name, docs):
    """docs: iterable of (tokens, weights) pairs of equal length. Returns the number of documents."""
    tokens, weights, offsets = [], [], [0]
    for tok, w in docs:
        if len(tok) != len(w) or len(tok) == 0:
            raise ValueError(f"{name}: a document has {len(tok)} tokens and {len(w)} weights")
        tokens.append(np.asarray(tok, dtype=np.int32))
        weights.append(np.asarray(w, dtype=np.float32))
        offsets.append(offsets[-1] + len(tok))
    os.makedirs(corpus_dir, exist_ok=True)
    cat = lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dt)
    _save(os.path.join(corpus_dir, f"{name}.tokens.npy"), cat(tokens, np.int32))
    _save(os.path.join(corpus_dir, f"{name}.weights.npy"), cat(weights, np.float32))
    _save(os.path.join(corpus_dir, f"{name}.offsets.npy"), np.asarray(offsets, dtype=np.int64))
    return len(offsets) - 1


def write_manifest(corpus_dir, vocab_size, **extra):
    """Hashes every file in corpus_dir (but the manifest) and writes manifest.json atomically, last."""
    files = {f: sha256(os.path.join(corpus_dir, f)) for f in sorted(os.listdir(corpus_dir))
             if f != MANIFEST and not f.endswith(".tmp")}
    manifest = {"vocab_size": int(vocab_size), **extra, "files": files}
    tmp = os.path.join(corpus_dir, MANIFEST + ".tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    os.replace(tmp, os.path.join(corpus_dir, MANIFEST))
    return manifest


def open_corpus(corpus_dir, verify=True):
    """Returns the manifest after checking that every file it lists is present and unchanged."""
    path = os.path.join(corpus_dir, MANIFEST)
    if not os.path.isfile(path):
        raise CorpusError(f"{corpus_dir} is not a corpus (no {MANIFEST}); build one with `python -m data.build`")
    try:
        with open(path) as f:
            manifest = json.load(f)
        files, _ = manifest["files"], int(manifest["vocab_size"])  # both must be present and readable
    except (ValueError, KeyError, TypeError) as e:
        raise CorpusError(f"{path} is unreadable ({e}); delete {corpus_dir} and rebuild it with `python -m data.build`")
    if verify:
        for name, digest in files.items():
            p = os.path.join(corpus_dir, name)
            if not os.path.isfile(p):
                raise CorpusError(f"{p} is missing; delete {corpus_dir} and rebuild it with `python -m data.build`")
            if sha256(p) != digest:
                raise CorpusError(f"{p} does not match its hash in {MANIFEST}; delete {corpus_dir} and rebuild it")
    return manifest


class Docs:
    """A read-only list of documents: docs[i] -> (tokens, weights) as numpy arrays."""

    def __init__(self, corpus_dir, name):
        prefix = os.path.join(corpus_dir, name)
        try:
            self.tokens = np.load(prefix + ".tokens.npy", mmap_mode="r")
            self.weights = np.load(prefix + ".weights.npy", mmap_mode="r")
            self.offsets = np.load(prefix + ".offsets.npy")
        except (OSError, ValueError) as e:
            raise CorpusError(f"cannot read mixture '{name}' in {corpus_dir} ({e}); "
                              "check the name or rebuild the corpus")
        o = self.offsets
        if (len(self.tokens) != len(self.weights) or len(o) < 1 or o[0] != 0 or o[-1] != len(self.tokens)
                or np.any(np.diff(o) <= 0)):
            raise CorpusError(f"mixture '{name}' in {corpus_dir} is malformed (offsets do not match tokens); "
                              "rebuild the corpus")

    def __len__(self):
        return len(self.offsets) - 1

    def __getitem__(self, i):
        a, b = self.offsets[i], self.offsets[i + 1]
        return np.asarray(self.tokens[a:b]), np.asarray(self.weights[a:b])

    def lengths(self):
        return np.diff(self.offsets)
