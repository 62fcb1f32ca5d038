"""Plain ``nn.Module`` backbones, activations and losses; nothing here imports Lightning.

This file imports nothing, so the registry can list names without importing torch.
"""

RESNET_DEPTHS = (18, 34, 50, 101, 152)
"""The torchvision ResNet depths registered as backbones ``resnet18`` … ``resnet152``."""
