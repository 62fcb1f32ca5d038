"""A study's folder: fold names, and a fold stopped before its first checkpoint trained again beside it."""

from __future__ import annotations

from lit_nn.cv.study import CVFolder


def test_folds_are_named_for_their_repeat_and_a_new_attempt_goes_beside_the_first(tmp_path):
    repeated = CVFolder(tmp_path, folds=3, repeats=2)
    assert [repeated.fold_name(n) for n in (0, 2, 3)] == ["fold-1-r1", "fold-3-r1", "fold-1-r2"]
    folder = CVFolder(tmp_path, folds=3, repeats=1)
    assert folder.run_name(0) == "fold-1"
    (tmp_path / "fold-1").mkdir()  # begun, stopped before its first checkpoint
    assert folder.run_name(0) == "fold-1-2"
    assert folder.log_file(0) == tmp_path / "logs" / "fold-1.log"
