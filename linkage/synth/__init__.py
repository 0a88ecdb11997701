"""A synthetic partnership's raw agency extracts: noisy identities in published formats."""
