"""Plain ``nn.Module`` backbones; nothing here imports Lightning."""
