"""Prediction logging, text features, drift and the monitor report."""
