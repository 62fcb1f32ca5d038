"""Fixture plugin registering a task (lazily, by import path), found through its dist-info entry point."""

import lit_nn
from lit_nn.lazy import lazy
from lit_nn.tasks import RegressionTask


class MedianTask(RegressionTask):
    """Regression towards the median: the ``l1`` loss by default."""

    default_loss = "l1"


@lit_nn.hookimpl
def lit_nn_register_tasks():
    return {"MedianTask": lazy("litnn_fixture_task:MedianTask")}
