"""experiments/tables.py: every results table in README.md and docs/ is what its committed rows render."""
from experiments import tables


def test_every_table_in_the_docs_is_what_its_rows_render():
    assert tables.main(["--check"]) == 0


def test_a_table_that_drifted_from_its_rows_is_caught():
    marked = [f for f in tables.files() if tables.MARK.search(open(f).read())]
    assert marked, "no marked table in the docs"
    text = open(marked[0]).read()
    m = tables.MARK.search(text)
    drifted = text[:m.start(4)] + m.group(4).replace("0.", "9.", 1) + text[m.end(4):]  # one number changed by hand
    fixed, changed = tables.render_text(drifted)
    assert changed and fixed == tables.render_text(text)[0]
