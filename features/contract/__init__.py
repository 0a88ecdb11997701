"""The data contract for Lantern's raw extracts: schemas, loading, validation and writing.

Eight required tables and one optional table, linked by a pseudonymised ``child_id``. The
contract lives in :data:`SCHEMAS` (pandera) and is documented in ``docs/data-contract.md``,
generated from it by :func:`features.contract.docs.render_contract_markdown`.
"""

from features.contract.extracts import Extracts, load_extracts, validate_extracts
from features.contract.problems import ContractError, Problem, describe_rows, format_problems
from features.contract.schemas import OPTIONAL_TABLES, REQUIRED_TABLES, SCHEMAS, TABLES
from features.contract.validation import validate_tables
from features.contract.writing import write_extracts

__all__ = [
    "OPTIONAL_TABLES",
    "REQUIRED_TABLES",
    "SCHEMAS",
    "TABLES",
    "ContractError",
    "Extracts",
    "Problem",
    "describe_rows",
    "format_problems",
    "load_extracts",
    "validate_extracts",
    "validate_tables",
    "write_extracts",
]
