"""The implicit-execution map (experiments/implicit_map.py) is built from its levers' committed rows."""
import json
import shutil

from experiments import implicit_map
from experiments.tables import implicit_map as render


def test_the_committed_map_agrees_with_its_levers_rows():
    assert implicit_map.main(["--check"]) == 0


def test_a_changed_lever_row_changes_the_map_and_its_table(tmp_path):
    shutil.copytree(implicit_map.REPO + "/docs/rows", tmp_path / "docs" / "rows")
    path = tmp_path / "docs" / "rows" / "implicit_depth_cpu.json"
    rows = json.loads(path.read_text())
    row = next(r for r in rows if r["split"] == "S_eval" and r["mode"] == "implicit" and r["seed"] is None)
    row.update(value=0.4, ci_low=0.3, ci_high=0.5, mean_a=0.56)
    path.write_text(json.dumps(rows))
    before, after = implicit_map.build(), implicit_map.build(tmp_path)
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(before) == len(after) and len(changed) == 1
    assert changed[0][1]["lever"] == "8 layers" and changed[0][1]["split"] == "S_eval"
    assert "| 8 layers | mixture | 0.560 | 0.160 | +0.400 [+0.300, +0.500] | 0.100 | 5 |" in render(after)
