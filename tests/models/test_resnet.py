"""torchvision ResNets: local weights only, frozen features, any channel count."""

from __future__ import annotations

import hashlib

import pytest
import torch
import torchvision
from torch import nn

from lit_nn.errors import InvalidArgumentsError
from lit_nn.models.resnet import ResNet
from lit_nn.registry import build_registry

REGISTRY = build_registry(autoload=False)


def resnet(name="resnet18", input_shape=(3, 32, 32), **kwargs):
    return REGISTRY.create(
        "backbones", name, input_shape=input_shape, output_size=2, activation=nn.ReLU, dropout=0.0, **kwargs
    )


@pytest.fixture
def weights_file(tmp_path):
    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    return path, reference


def test_at_least_the_three_resnets_are_registered():
    assert {"resnet18", "resnet34", "resnet50"} <= set(REGISTRY.names("backbones"))


def test_weights_from_a_local_state_dict(weights_file):
    path, reference = weights_file
    net = resnet(weights=str(path)).eval()
    reference.fc = nn.Identity()
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(net.features(x), reference.eval()(x))


def test_freeze_backbone_trains_only_the_head_and_keeps_batch_norm_statistics(weights_file):
    path, _ = weights_file
    net = resnet(weights=str(path), freeze_backbone=True)
    trainable = {name for name, p in net.named_parameters() if p.requires_grad}
    assert trainable == {"head.1.weight", "head.1.bias"}
    net.train()
    assert not net.features.training and net.head.training
    before = net.features.bn1.running_mean.clone()
    net(torch.randn(4, 3, 32, 32))
    torch.testing.assert_close(net.features.bn1.running_mean, before)


def test_named_weights_that_are_not_cached_say_how_to_provide_them(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(InvalidArgumentsError) as info:
        resnet(weights="IMAGENET1K_V1")
    message = str(info.value)
    assert "are not in the torch hub cache" in message and "lit_nn never downloads" in message
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in message
    assert str(tmp_path / "checkpoints" / "resnet18-f37072fd.pth") in message


def test_a_cached_file_whose_hash_is_not_its_names_is_refused(monkeypatch, tmp_path, weights_file):
    """Found in the hub cache under torchvision's name, but not torchvision's bytes: one line, both hashes."""
    path, _ = weights_file
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "resnet18-f37072fd.pth").write_bytes(path.read_bytes())
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(InvalidArgumentsError) as info:
        resnet(weights="DEFAULT")
    message = str(info.value)
    assert "with a SHA-256 beginning f37072fd, but its SHA-256 begins " + actual[:8] in message
    assert "\n" not in message


def test_a_file_named_with_its_own_hash_is_used(tmp_path, weights_file):
    path, reference = weights_file
    named = tmp_path / f"resnet18-{hashlib.sha256(path.read_bytes()).hexdigest()[:10]}.pth"
    named.write_bytes(path.read_bytes())
    net = resnet(weights=str(named))
    torch.testing.assert_close(net.features.conv1.weight, reference.conv1.weight)


def test_backbones_that_take_weights_say_where_pretrained_weights_come_from():
    from lit_nn.cli.plugins import list_kind

    listed = list_kind(REGISTRY, "backbones")
    assert "--model.backbone_kwargs.weights FILE" in listed and "torch hub cache" in listed
    assert "never downloads" in listed and "SHA-256" in listed


def test_unknown_weight_name_lists_the_known_ones():
    with pytest.raises(
        InvalidArgumentsError, match="resnet18 has no weights named 'IMAGENET_V9'; torchvision knows IMAGENET1K_V1"
    ):
        resnet(weights="IMAGENET_V9")


def test_missing_and_foreign_weight_files(tmp_path):
    with pytest.raises(InvalidArgumentsError, match="weights file .*nothere.pth' does not exist"):
        resnet(weights=str(tmp_path / "nothere.pth"))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(InvalidArgumentsError, match="could not be read as a state dict"):
        resnet(weights=str(junk))
    other = tmp_path / "resnet34.pth"
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), other)
    with pytest.raises(InvalidArgumentsError, match="the weights do not fit resnet18"):
        resnet(weights=str(other))


def test_one_channel_input_reuses_the_rgb_filters(weights_file):
    path, reference = weights_file
    net = resnet(input_shape=(1, 16, 16), weights=str(path))
    assert net.features.conv1.in_channels == 1
    torch.testing.assert_close(net.features.conv1.weight, reference.conv1.weight.mean(dim=1, keepdim=True))
    assert net(torch.randn(2, 1, 16, 16)).shape == (2, 2)


def test_pretrained_activation_swap_warns(weights_file):
    path, _ = weights_file
    with pytest.warns(UserWarning, match="replacing the pretrained network's ReLUs by GELU"):
        net = REGISTRY.create(
            "backbones",
            "resnet18",
            input_shape=(3, 32, 32),
            output_size=2,
            activation=nn.GELU,
            dropout=0.0,
            weights=str(path),
        )
    assert not any(isinstance(m, nn.ReLU) for m in net.modules())


def test_depth_is_checked():
    with pytest.raises(ValueError, match="depth must be one of"):
        ResNet(20, (3, 8, 8), 2, nn.ReLU)
