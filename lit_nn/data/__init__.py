"""Built-in datamodules: scikit-learn's bundled datasets, synthetic data, CSV files, image folders."""
