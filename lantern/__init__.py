"""Lantern: explained, audited, advisory prompts for a multi-agency safeguarding partnership.

The package holds the command line and shared settings; the work lives in ``features``,
``training``, ``fairness`` and ``serving``.
"""
