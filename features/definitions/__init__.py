"""Lantern's features, one module per source; each function is one column.

Read a module to see exactly how its columns are computed; ``lantern registry``
prints the registry they make.
"""

from features.definitions import (
    area,
    education,
    exclusions,
    health,
    police,
    relationships,
    school,
    social_care,
    youth_justice,
)

MODULES = (
    school,
    exclusions,
    social_care,
    police,
    health,
    youth_justice,
    education,
    relationships,
    area,
)
"""The modules the default registry is collected from, in explanation order."""
