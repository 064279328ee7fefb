import pytest

from data import templates as T


@pytest.mark.parametrize("domain", ["programs", "grammars"])
def test_template_sets(domain):
    for train, held in ((T.DECL, T.HELDOUT_DECL), (T.EXEC, T.HELDOUT_EXEC)):
        assert len(set(train[domain])) == len(train[domain]) >= 20 and len(held[domain]) >= 5
        assert not set(train[domain]) & set(held[domain])
        for t in train[domain] + held[domain]:
            assert "{name}" in t and "'" not in t and t.isascii()
    for t in T.DECL[domain] + T.HELDOUT_DECL[domain]:
        assert t.endswith("\n")
    for t in T.EXEC[domain] + T.HELDOUT_EXEC[domain]:
        assert not t[-1].isspace()
        assert ("{x}" in t) == (domain == "programs")


def test_segments_put_weight_where_the_loss_goes():
    assert T.exec_segments("f(3) =", "6") == [("f(3) =", 0.0), (" 6", 1.0)]
    cot = T.exec_segments("f(3) =", "6", "x = 3")
    assert cot[0] == ("f(3) =" + T.COT_CUE, 0.0) and cot[1] == ("x = 3" + T.ANSWER_CUE + " 6", 1.0)
    assert T.decl_segments("Code for {name}:\n", "f", "def f(x):\n") == [("Code for f:\n", 0.0), ("def f(x):\n", 1.0)]
    segs = T.pretrain_segments("# {name}\n", "f", "def f(x):\n", [("f(1) =", "2", None), ("f(2) =", "3", "x = 2")])
    assert "".join(t for t, _ in segs) == "# f\ndef f(x):\nf(1) = 2\nf(2) =" + T.COT_CUE + "x = 2" + T.ANSWER_CUE + " 3"
    assert segs == T.pretrain_segments("# {name}\n", "f", "def f(x):\n",
                                       [("f(1) =", "2", None), ("f(2) =", "3", "x = 2")], 1.0)
    weighted = T.pretrain_segments("# {name}\n", "f", "def f(x):\n", [("f(1) =", "2", None)], 0.1)
    assert weighted == [("# f\ndef f(x):\n", 0.1), ("f(1) =", 0.1), (" 2", 1.0)]


def test_parse_completion():
    assert T.parse_completion(" 6", "implicit") == "6"
    assert T.parse_completion(" 'abc'\nmore", "incontext") == "'abc'"
    assert T.parse_completion("x = 3\ny = 3 + 1 = 4" + T.ANSWER_CUE + " 4\njunk", "cot") == "4"
    assert T.parse_completion("x = 3 and no answer", "cot") == ""
