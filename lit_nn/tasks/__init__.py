"""The three task LightningModules."""

from lit_nn.tasks.base import BaseTask
from lit_nn.tasks.binary import BinaryClassificationTask
from lit_nn.tasks.multiclass import MulticlassClassificationTask
from lit_nn.tasks.regression import RegressionTask

__all__ = ["BaseTask", "BinaryClassificationTask", "MulticlassClassificationTask", "RegressionTask"]
