"""Evaluate a checkpoint on the eval prompts of its corpus: print a table and write eval.json (rows with 95%
intervals) and eval_items.json (every item's score, for paired comparisons) beside it.

    python eval.py --ckpt out/pbb/cpu/seed0/pbb_stage2/ckpt.pt [--splits S_eval,S_control] [--modes implicit]

Splits, modes, metrics and baselines are described in pbb/evaluate.py, which does the work.
"""
import argparse
import sys

import torch

from data.build import EVAL_SPLITS, MODES
from data.format import CorpusError
from pbb.common import UserError
from pbb.evaluate import DOMAINS, evaluate


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python eval.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True, help="checkpoint path (ckpt.pt written by train.py)")
    ap.add_argument("--splits", default=",".join(EVAL_SPLITS), help="comma-separated splits")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated modes (grammars also incontext_cot)")
    ap.add_argument("--domains", default=",".join(DOMAINS), help="comma-separated domains")
    ap.add_argument("--samples", type=int, default=5, help="sampled strings per grammar prompt")
    ap.add_argument("--batch_size", type=int, default=64)
    ap.add_argument("--max_new_tokens", type=int, default=0, help="0: the corpus's longest training exec document")
    ap.add_argument("--curriculum", default=None, help="label of the rows (default: basename of the run's out_dir)")
    ap.add_argument("--data_dir", default=None, help="evaluate on this corpus dir instead of the checkpoint's")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--out", default=None, help="where to write the rows (default: eval.json beside the checkpoint)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (torch.set_num_threads); 0: torch's default")
    ap.add_argument("--no_progress", action="store_true")
    ap.add_argument("--quiet", action="store_true", help="print nothing but errors (the rows go to --out)")
    args = ap.parse_args(argv)
    split = lambda s: [t for t in s.split(",") if t]
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        evaluate(args.ckpt, split(args.splits), split(args.modes), split(args.domains), args.samples, args.curriculum,
                 args.device, args.data_dir, args.batch_size, args.max_new_tokens, args.out, not args.no_progress,
                 log=None if args.quiet else print)
    except (UserError, CorpusError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
