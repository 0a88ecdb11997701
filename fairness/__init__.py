"""Fairness audit of any scores, labels and groups."""
