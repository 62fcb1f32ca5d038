"""The three tasks: they learn, log their metrics, predict what users want and refuse bad input."""

from __future__ import annotations

import math

import pytest
import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from lit_nn.errors import InvalidArgumentsError, UnknownNameError
from lit_nn.registry import build_registry
from lit_nn.tasks import BinaryClassificationTask, MulticlassClassificationTask, RegressionTask
from lit_nn.tasks.labels import LabelError
from tests.helpers.training import EpochLosses, task_for, trainer

REGISTRY = build_registry()

METRICS = {
    "regression": {"loss", "mse", "rmse", "mae", "r2"},
    "binary": {"loss", "acc", "precision", "recall", "f1", "auroc"},
    "multiclass": {"loss", "acc", "f1_macro", "top5_acc"},
}


def synthetic(kind, **kwargs):
    kwargs.setdefault("num_samples", 300)
    kwargs.setdefault("batch_size", 32)
    if kind == "multiclass":
        kwargs.setdefault("num_classes", 6)
    if kind != "regression":
        kwargs.setdefault("class_sep", 2.0)
    return REGISTRY.create("datamodules", kind, **kwargs)


@pytest.mark.parametrize("kind", ["regression", "binary", "multiclass"])
def test_loss_falls_and_metrics_are_logged_per_stage(kind):
    torch.manual_seed(0)
    datamodule = synthetic(kind)
    model = task_for(datamodule, backbone_kwargs={"hidden_sizes": [32]}, lr=1e-2)
    losses = EpochLosses()
    run = trainer(max_epochs=8, callbacks=[losses])
    run.fit(model, datamodule)
    assert losses.values[-1] < 0.7 * losses.values[0], losses.values
    for stage in ("train", "val"):
        names = {k.split("/")[1] for k in run.callback_metrics if k.startswith(f"{stage}/")}
        assert METRICS[kind] <= {n.removesuffix("_epoch").removesuffix("_step") for n in names}
    (test,) = run.test(model, datamodule, verbose=False)
    trust = set() if kind == "regression" else {"test/ece"}  # testing adds the calibration error of classifiers
    assert {f"test/{m}" for m in METRICS[kind]} | trust == set(test)


def test_top5_only_with_more_than_five_classes():
    model = MulticlassClassificationTask(input_shape=[4], num_classes=5)
    assert set(model.val_stage.metrics) == {"val/acc", "val/f1_macro"}


def test_default_losses():
    assert type(BinaryClassificationTask(input_shape=[3]).criterion.loss).__name__ == "BCEWithLogitsLoss"
    assert type(MulticlassClassificationTask(input_shape=[3], num_classes=3).criterion).__name__ == "CrossEntropyLoss"
    assert type(RegressionTask(input_shape=[3]).criterion.loss).__name__ == "MSELoss"


def test_names_resolve_through_the_registry_with_their_keywords():
    model = BinaryClassificationTask(
        input_shape=[4],
        activation="leaky_relu",
        activation_kwargs={"negative_slope": 0.3},
        loss="focal",
        loss_kwargs={"gamma": 1.5},
        backbone_kwargs={"hidden_sizes": [5]},
    )
    (act,) = [m for m in model.backbone.modules() if type(m).__name__ == "LeakyReLU"]
    assert act.negative_slope == 0.3 and model.criterion.gamma == 1.5


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"backbone": "resnet"},
            UnknownNameError,
            "Unknown backbone 'resnet'. Did you mean 'resnet50', 'resnet34' or 'resnet18'",
        ),
        ({"activation": "relu6"}, UnknownNameError, "Unknown activation 'relu6'"),
        (
            {"loss": "cross_entropy_loss"},
            UnknownNameError,
            "Unknown loss 'cross_entropy_loss'. Did you mean 'cross_entropy'",
        ),
        (
            {"activation_kwargs": {"slope": 1}},
            InvalidArgumentsError,
            "activation 'relu' got an unknown argument 'slope'",
        ),
        ({"loss_kwargs": {"delta": 1}}, InvalidArgumentsError, "loss 'cross_entropy' got an unknown argument 'delta'"),
        ({"backbone_kwargs": {"dropout": 0.5}}, InvalidArgumentsError, "backbone_kwargs must not set dropout"),
        ({"lr": 0.0}, InvalidArgumentsError, "lr must be positive, got 0.0"),
        ({"lr": -1e-3}, InvalidArgumentsError, "lr must be positive"),
        ({"weight_decay": -1.0}, InvalidArgumentsError, "weight_decay must be 0 or more"),
        ({"dropout": 1.0}, InvalidArgumentsError, "dropout must be below 1"),
        ({"num_classes": 1}, InvalidArgumentsError, "the data holds a single class; a classifier needs at least two"),
        ({"input_shape": None}, InvalidArgumentsError, "needs input_shape, the shape of one sample"),
    ],
)
def test_bad_arguments_are_refused_clearly(kwargs, error, message):
    arguments = {"input_shape": [4], "num_classes": 3, **kwargs}
    with pytest.raises(error, match=message):
        MulticlassClassificationTask(**arguments)


def test_binary_task_refuses_more_classes():
    with pytest.raises(InvalidArgumentsError, match="has 2 classes, the data has 3; use MulticlassClassificationTask"):
        BinaryClassificationTask(input_shape=[4], num_classes=3)


def test_class_count_that_does_not_match_the_data():
    datamodule = synthetic("multiclass")
    model = MulticlassClassificationTask(input_shape=datamodule.input_shape, num_classes=4)
    with pytest.raises(
        LabelError,
        match="the datamodule has num_classes=6 but MulticlassClassificationTask was built with num_classes=4",
    ):
        trainer(fast_dev_run=1).fit(model, datamodule)


class OwnData(LightningDataModule):
    """A user's own datamodule, with labels the model cannot have."""

    def __init__(self, labels):
        super().__init__()
        self.labels = torch.tensor(labels)

    def train_dataloader(self):
        return DataLoader(TensorDataset(torch.randn(len(self.labels), 3), self.labels), batch_size=4)


@pytest.mark.parametrize(
    ("task", "labels", "message"),
    [
        (MulticlassClassificationTask, [0, 1, 2, 7], "label 7 is outside 0…2: the model has 3 classes"),
        (BinaryClassificationTask, [0, 1, -1, 0], "label -1 is outside 0…1"),
    ],
)
def test_labels_out_of_range(task, labels, message):
    model = task(input_shape=[3], num_classes=3) if task is MulticlassClassificationTask else task(input_shape=[3])
    with pytest.raises(LabelError, match=message):
        trainer(fast_dev_run=1).fit(model, OwnData(labels))


def test_predict_step_returns_what_users_want():
    x = torch.randn(5, 4)
    binary = BinaryClassificationTask(input_shape=[4], threshold=0.3).eval()
    out = binary.predict_step((x, torch.zeros(5)), 0)
    assert out["probability"].shape == (5,) and ((out["probability"] >= 0.3).long() == out["label"]).all()
    multi = MulticlassClassificationTask(input_shape=[4], num_classes=3).eval()
    out = multi.predict_step(x, 0)
    torch.testing.assert_close(out["probabilities"].sum(dim=1), torch.ones(5))
    assert (out["label"] == out["probabilities"].argmax(dim=1)).all()
    regression = RegressionTask(input_shape=[4], num_targets=2).eval()
    assert regression.predict_step([x], 0)["prediction"].shape == (5, 2)


def test_regression_predicts_in_the_data_units():
    datamodule = REGISTRY.create("datamodules", "diabetes")
    model = task_for(datamodule, backbone_kwargs={"hidden_sizes": []}, lr=0.05)
    run = trainer(max_epochs=15)
    run.fit(model, datamodule)
    predictions = torch.cat([p["prediction"] for p in run.predict(model, datamodule)])
    targets = torch.from_numpy(datamodule.targets[datamodule.split().test])
    assert abs(predictions.mean().item() - targets.mean().item()) < 0.25 * targets.std().item()
    assert model.target_mean.item() == pytest.approx(datamodule.target_stats[0].item())


@pytest.mark.parametrize(
    ("optimizer", "scheduler"), [("sgd", "onecycle"), ("adamw", "cosine"), ("rmsprop", "plateau"), ("adam", "none")]
)
def test_optimisers_and_schedules(optimizer, scheduler):
    datamodule = synthetic("binary")
    model = task_for(datamodule, optimizer=optimizer, scheduler=scheduler, lr=0.01)
    run = trainer(max_epochs=2, limit_train_batches=3, limit_val_batches=1)
    run.fit(model, datamodule)
    assert type(run.optimizers[0]).__name__.lower() == optimizer
    if scheduler == "none":
        assert not run.lr_scheduler_configs
    else:
        assert run.lr_scheduler_configs[0].interval == ("epoch" if scheduler == "plateau" else "step")


def test_frozen_backbone_only_optimises_the_head(tmp_path):
    model = BinaryClassificationTask(
        input_shape=[3, 32, 32], backbone="resnet18", backbone_kwargs={"freeze_backbone": True}
    )
    model.trainer = trainer()  # configure_optimizers reads the trainer for step-based schedules only
    (group,) = model.configure_optimizers().param_groups
    assert {id(p) for p in group["params"]} == {id(p) for p in model.backbone.head.parameters()}


def primitive(value):
    if isinstance(value, dict):
        return all(isinstance(k, str) and primitive(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(primitive(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def test_checkpoints_hold_primitive_hyperparameters_and_load_with_weights_only(tmp_path):
    datamodule = synthetic("multiclass")
    model = task_for(datamodule, activation="gelu", loss="focal", loss_kwargs={"alpha": [1.0] * 6})
    checkpoint = ModelCheckpoint(dirpath=tmp_path, monitor="val/loss", save_last=True)
    run = trainer(max_epochs=1, enable_checkpointing=True, callbacks=[checkpoint], default_root_dir=tmp_path)
    run.fit(model, datamodule)
    saved = torch.load(checkpoint.best_model_path, weights_only=True)
    assert primitive(saved["hyper_parameters"]) and saved["hyper_parameters"]["input_shape"] == [8]
    restored = MulticlassClassificationTask.load_from_checkpoint(checkpoint.best_model_path, weights_only=True)
    x = torch.randn(3, 8)
    torch.testing.assert_close(restored.eval()(x), model.eval()(x))


def test_dropout_reaches_the_backbone():
    model = RegressionTask(input_shape=[4], dropout=0.4)
    assert [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)] == [0.4, 0.4]
    assert math.isclose(model.hparams.dropout, 0.4)


def test_metrics_of_the_same_kind_keep_separate_states():
    """Top-1 and top-5 accuracy must not be merged into one state.

    torchmetrics groups metrics whose states are equal after the first update; a first batch the
    model gets entirely right makes top-1 and top-5 look alike, and grouped they stay alike.
    """
    model = MulticlassClassificationTask(input_shape=[4], num_classes=7)
    logits = torch.tensor([[0.0, 5.0, 4.0, 3.0, 2.0, 1.0, -1.0]] * 4)
    model.val_stage.metrics.update(logits, torch.tensor([1, 1, 1, 1]))  # all right, top-1 and top-5 alike
    model.val_stage.metrics.update(logits, torch.tensor([2, 3, 4, 6]))  # top-1 all wrong, top-5 right thrice
    values = model.val_stage.metrics.compute()
    assert values["val/acc"].item() == pytest.approx(4 / 8) and values["val/top5_acc"].item() == pytest.approx(7 / 8)


def test_channels_last_keeps_the_outputs_and_lays_out_the_weights():
    torch.manual_seed(0)
    plain = MulticlassClassificationTask(num_classes=3, input_shape=[1, 8, 8], backbone="cnn").eval()
    torch.manual_seed(0)
    fast = MulticlassClassificationTask(num_classes=3, input_shape=[1, 8, 8], backbone="cnn", channels_last=True).eval()
    convs = [p for p in fast.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    x = torch.randn(5, 1, 8, 8)
    assert torch.allclose(plain(x), fast(x), atol=1e-5)
    assert list(plain.state_dict()) == list(fast.state_dict())


def test_compile_keeps_parameter_names_and_outputs():
    torch.manual_seed(0)
    plain = MulticlassClassificationTask(num_classes=3, input_shape=[4])
    torch.manual_seed(0)
    compiled = MulticlassClassificationTask(num_classes=3, input_shape=[4], compile=True)
    assert list(plain.state_dict()) == list(compiled.state_dict())  # checkpoints load either way
    x = torch.randn(5, 4)
    assert torch.allclose(plain(x), compiled(x), atol=1e-6)
    assert compiled.backbone._compiled_call_impl is not None
