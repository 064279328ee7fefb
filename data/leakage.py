"""Build-time leakage checks. Each failure raises LeakageError with one line naming the offending
document. `training` maps mixture name -> list of templates.Doc, whose `inputs` are the (behaviour,
input) pairs the document shows, those inside a trace included; mixtures named in `ad` are the
algorithm-distillation files, the only training files allowed to hold exec documents of S_eval.

Checked: no behaviour is in two splits; no (behaviour, evaluation input) pair is in any training
document; no S_eval (or pretrain_recall_val) behaviour appears in a training document other than a decl document
(outside `ad`), judged both by the documents' records and by the names found in their text; nothing of
S_control appears in any training document (records and text).
"""
import re

from data.format import CorpusError


class LeakageError(CorpusError):
    pass


def check(splits, training, eval_inputs, ad=()):
    """splits: {(domain, split): [names]}; eval_inputs: {name: set of inputs held out for evaluation}."""
    owner = {}
    for (domain, split), names in splits.items():
        for n in names:
            if n in owner:
                raise LeakageError(f"behaviour {n} is in both {owner[n]} and {domain}/{split}")
            owner[n] = f"{domain}/{split}"
    s_eval = {n for (_, s), ns in splits.items() if s in ("S_eval", "pretrain_recall_val") for n in ns}  # decl only
    s_control = {n for (_, s), ns in splits.items() if s == "S_control" for n in ns}
    for mix, docs in training.items():
        for i, d in enumerate(docs):
            where = f"mixture '{mix}' document {i} ({d.kind} of {d.name})"
            bad = [(n, x) for n, x in d.inputs if x in eval_inputs.get(n, ())]
            if bad:
                raise LeakageError(f"{where} shows evaluation input {bad[0][1]!r} of {bad[0][0]}")
            text_names = set(re.findall(r"[a-z]+", "".join(t for t, _ in d.segments))) & (s_eval | s_control)
            if d.name in s_control or text_names & s_control:
                raise LeakageError(f"{where} contains S_control behaviour "
                                   f"{sorted(({d.name} | text_names) & s_control)[0]}")
            if (d.name in s_eval or text_names) and d.kind != "decl" and mix not in ad:
                raise LeakageError(f"{where} is not a decl document but contains S_eval/pretrain_recall_val behaviour "
                                   f"{sorted(({d.name} | text_names) & s_eval)[0]}")
