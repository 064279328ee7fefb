# Code vs description (python -m experiments.pbb --description; docs/curricula.md, "Code or description"): the default
# CPU corpus with every program's instruction written as a plain-English description instead of its source,
# in declarations, in-context prompts and restated CoT traces alike. Same behaviours and eval items as the
# default, so each curriculum pairs with the default run's same curriculum.
from configs.corpus_default import *

instruction_form = "description"
