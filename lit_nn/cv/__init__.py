"""K-fold cross-validation: the study's folds and folder, the out-of-fold scores, the baseline and the report."""
