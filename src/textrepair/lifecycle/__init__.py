"""The model lifecycle around training.

Evaluation, baselines, MLflow tracking, the registry's promotion gate and releases.
"""
