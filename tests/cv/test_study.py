"""A study's folder: fold names, a fold stopped before its first checkpoint trained again beside it, a study refused."""

from __future__ import annotations

import numpy as np
import pytest

from lit_nn.cv.options import CVOptions
from lit_nn.cv.study import CVFolder, folds_record, open_cv, spec_of
from lit_nn.errors import ConfigError


def test_folds_are_named_for_their_repeat_and_a_new_attempt_goes_beside_the_first(tmp_path):
    repeated = CVFolder(tmp_path, folds=3, repeats=2)
    assert [repeated.fold_name(n) for n in (0, 2, 3)] == ["fold-1-r1", "fold-3-r1", "fold-1-r2"]
    folder = CVFolder(tmp_path, folds=3, repeats=1)
    assert folder.run_name(0) == "fold-1"
    (tmp_path / "fold-1").mkdir()  # begun, stopped before its first checkpoint
    assert folder.run_name(0) == "fold-1-2"
    assert folder.log_file(0) == tmp_path / "logs" / "fold-1.log"


def test_a_study_of_another_metric_or_configuration_is_refused_naming_the_cv_option(tmp_path):
    options = CVOptions(folds=2)
    folder = CVFolder(tmp_path / "cv", 2, 1)
    record = folds_record(list(range(4)), [np.array([0, 1]), np.array([2, 3])], options, 0)
    open_cv(folder, spec_of(options, "test/acc", "maximize"), {"trainer": {"max_epochs": 3}}, record)
    with pytest.raises(ConfigError) as refused:
        open_cv(folder, spec_of(options, "test/auroc", "maximize"), {"trainer": {"max_epochs": 3}}, record)
    assert str(refused.value) == (
        f'{folder.path} holds a cross-validation study started with another --cv.metric (metric: "test/acc" then, '
        '"test/auroc" now); run the command that started it to carry it on, or give another --cv.name for a new study'
    )
    with pytest.raises(ConfigError, match=r"cross-validation study started with another configuration "
                       r"\(trainer.max_epochs: 3 then, 5 now\).*another --cv.name"):  # fmt: skip
        open_cv(folder, spec_of(options, "test/acc", "maximize"), {"trainer": {"max_epochs": 5}}, record)
