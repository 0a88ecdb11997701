"""Data contract, synthetic partnership, feature registry and point-in-time feature builder.

``features`` depends on none of Lantern's other packages.
"""
