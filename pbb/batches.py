"""Training data: a corpus opened (built from its config when missing) and its mixtures packed into rows of whole
documents (Batches)."""
import os

import numpy as np
import torch

from data.format import Docs, open_corpus
from pbb.common import UserError


class Batches:
    """Packs whole documents into rows of block_size + 1 tokens, walking them in a seeded order that
    is a new permutation every epoch (without replacement). A document never spans two rows; one
    longer than a row is cut. The rest of a row is padding, a document of its own with zero weight.
    With `weights` (one per mixture, train.py's train_weights) each next document comes from mixture j with
    probability weights[j] / sum(weights), and each mixture is walked in its own seeded permutation per epoch
    of it; without, every document of every mixture once per epoch (shares proportional to sizes).
    `seen[j]`: documents of mixture j put in rows so far."""

    CHUNK = 4096  # mixture draws made at once (weighted): draw k is a function of the seed and k only

    def __init__(self, mixtures, block_size, seed, weights=None):
        self.mixtures, self.row_len, self.seed = mixtures, block_size + 1, seed
        sizes = [len(m) for m in mixtures]
        self.p = None if not weights else np.asarray(weights, np.float64) / sum(weights)
        self.which = np.repeat(np.arange(len(mixtures)), sizes)
        self.local = np.concatenate([np.arange(n) for n in sizes])
        self.seen = [0] * len(mixtures)
        self._chunk = (None, None)  # (chunk number, its mixture draws), weighted only
        self.epoch, self.cursor = 0, 0
        self.order = self._order(0)
        if self.p is not None:
            self.drawn, self.epochs, self.cursors = 0, [0] * len(mixtures), [0] * len(mixtures)
            self.orders = [self._order(0, j) for j in range(len(mixtures))]

    def _order(self, epoch, j=None):
        if j is None:
            return np.random.default_rng([self.seed, epoch]).permutation(len(self.which))
        return np.random.default_rng([self.seed, 1 + j, epoch]).permutation(len(self.mixtures[j]))

    def state(self):
        if self.p is None:
            return {"epoch": self.epoch, "cursor": self.cursor, "seen": list(self.seen)}
        return {"drawn": self.drawn, "epochs": list(self.epochs), "cursors": list(self.cursors),
                "seen": list(self.seen)}

    def load_state(self, state):
        self.seen = [int(n) for n in state.get("seen", self.seen)]
        if self.p is None:
            if "epoch" not in state:
                raise ValueError("the checkpoint's data stream was weighted (train_weights); resume it with them")
            self.epoch, self.cursor = int(state["epoch"]), int(state["cursor"])
            self.order = self._order(self.epoch)
            return
        if "drawn" not in state or len(state["cursors"]) != len(self.mixtures):
            raise ValueError("the checkpoint's data stream had other train_data/train_weights; resume it with those")
        self.drawn = int(state["drawn"])
        self.epochs, self.cursors = [int(e) for e in state["epochs"]], [int(c) for c in state["cursors"]]
        self.orders = [self._order(e, j) for j, e in enumerate(self.epochs)]

    def _draw(self):
        """The mixture of weighted draw number self.drawn (not consumed)."""
        chunk, k = divmod(self.drawn, self.CHUNK)
        if self._chunk[0] != chunk:
            rng = np.random.default_rng([self.seed, 0, chunk])
            self._chunk = (chunk, rng.choice(len(self.mixtures), size=self.CHUNK, p=self.p))
        return int(self._chunk[1][k])

    def _next_doc(self, used):
        """(mixture, index) of the next document; None when an epoch ends in a non-empty row (unweighted)."""
        if self.p is not None:
            j = self._draw()
            if self.cursors[j] == len(self.orders[j]):
                self.epochs[j], self.cursors[j] = self.epochs[j] + 1, 0
                self.orders[j] = self._order(self.epochs[j], j)
            return j, self.orders[j][self.cursors[j]]
        if self.cursor == len(self.order):
            if used:
                return None  # an epoch's last row is not topped up from the next epoch
            self.epoch, self.cursor = self.epoch + 1, 0
            self.order = self._order(self.epoch)
        d = self.order[self.cursor]
        return self.which[d], self.local[d]

    def _advance(self, j):
        if self.p is None:
            self.cursor += 1
        else:
            self.drawn, self.cursors[j] = self.drawn + 1, self.cursors[j] + 1
        self.seen[j] += 1

    def row(self):
        tokens = np.zeros(self.row_len, np.int64)
        weights = np.zeros(self.row_len, np.float32)
        docs = np.full(self.row_len, -1, np.int64)
        used, n_docs = 0, 0
        while True:
            nxt = self._next_doc(used)
            if nxt is None:
                break
            j, i = nxt
            tok, w = self.mixtures[j][i]
            n = min(len(tok), self.row_len)
            if used + n > self.row_len:
                break
            tokens[used:used + n], weights[used:used + n], docs[used:used + n] = tok[:n], w[:n], n_docs
            used, n_docs = used + n, n_docs + 1
            self._advance(j)
        return tokens, weights, docs

    def take(self, n_rows):
        """(x, y, loss weights, doc ids) of n_rows rows; a target in another document gets weight 0."""
        tok, w, doc = (torch.from_numpy(np.stack(a)) for a in zip(*(self.row() for _ in range(n_rows))))
        same_doc = doc[:, 1:] == doc[:, :-1]
        return tok[:, :-1], tok[:, 1:], w[:, 1:] * same_doc, doc[:, :-1]


def open_data(config):
    """Returns (corpus dir, manifest), building the corpus from its config when it does not exist."""
    data_dir = config["data_dir"]
    if data_dir and os.path.isdir(data_dir):
        return data_dir, open_corpus(data_dir)
    if not config["corpus"]:
        raise UserError(f"data_dir {data_dir!r} does not exist and no corpus config is set to build it")
    from data.build import ensure_corpus
    try:
        data_dir = ensure_corpus(config["corpus"], data_dir or None, config["corpus_seed"])
    except (ValueError, OSError) as e:
        raise UserError(f"cannot build corpus from {config['corpus']}: {e}")
    return data_dir, open_corpus(data_dir)


def load_mixtures(data_dir, names, manifest):
    for name in names:
        if not os.path.isfile(os.path.join(data_dir, f"{name}.tokens.npy")):
            have = sorted(f[:-len(".tokens.npy")] for f in manifest["files"] if f.endswith(".tokens.npy"))
            raise UserError(f"mixture '{name}' is not in corpus {data_dir}; it has: {', '.join(have)}")
    mixtures = [Docs(data_dir, name) for name in names]
    if not sum(len(m) for m in mixtures):
        raise UserError(f"mixtures {', '.join(names)} of corpus {data_dir} hold no documents")
    return mixtures


def open_batches(config, data_dir, manifest, device):
    """The training stream, and the fixed held-out batches (on device) of val_data, if any."""
    mixtures, weights = load_mixtures(data_dir, config["train_data"], manifest), config["train_weights"]
    empty = [n for n, m, w in zip(config["train_data"], mixtures, weights) if w > 0 and not len(m)]
    if empty:
        raise UserError(f"train_weights gives mixture(s) {', '.join(empty)} a share, but they hold no documents")
    stream = Batches(mixtures, config["block_size"], config["seed"], weights)
    if not config["val_data"]:
        return stream, []
    val = Batches(load_mixtures(data_dir, config["val_data"], manifest), config["block_size"], config["seed"])
    return stream, [tuple(t.to(device) for t in val.take(config["batch_size"])) for _ in range(config["eval_iters"])]


def fetch(stream, n_rows, device):
    """(the stream's state before them, the next n_rows rows on device). On CUDA the rows are copied from
    pinned memory without waiting: the host builds the next batch while the GPU runs the current step."""
    state = stream.state()
    rows = stream.take(n_rows)
    if device.startswith("cuda"):
        return state, [t.contiguous().pin_memory().to(device, non_blocking=True) for t in rows]
    return state, [t.to(device) for t in rows]
