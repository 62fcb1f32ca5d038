"""Callbacks lit_nn adds to the Lightning Trainer."""
