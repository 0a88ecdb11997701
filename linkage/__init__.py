"""Agency extracts as each agency holds them, linked into children (Splink), and audited.

``lantern ingest`` reads the extracts with their mappings (:mod:`linkage.mapping`),
``lantern link`` links them (:mod:`linkage.link`) and writes the contract's extracts with
the crosswalk and the linkage report beside them (:mod:`linkage.outputs`).
"""
