"""A trained model outside training: one module from raw features to predictions, exported and served."""
