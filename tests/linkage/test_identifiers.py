"""The check characters of the UPN and the NHS number, and the synthetic ones made with them."""

import numpy as np

from linkage.identifiers import (
    is_valid_nhs_number,
    is_valid_upn,
    make_nhs_numbers,
    make_upns,
    nhs_check_digit,
)


def test_the_published_example_nhs_number_is_valid_and_a_changed_digit_is_not():
    # 943 476 5919 is the NHS Data Dictionary's worked example of the modulus 11 check.
    assert is_valid_nhs_number("9434765919")
    assert not is_valid_nhs_number("9434765918")
    assert not is_valid_nhs_number("943476591")
    assert nhs_check_digit("943476591") == 9


def test_made_identifiers_are_distinct_and_valid():
    rng = np.random.default_rng(3)
    upns, numbers = make_upns("999", rng, 2000), make_nhs_numbers(rng, 2000)
    assert len(set(upns)) == 2000 and len(set(numbers)) == 2000
    assert all(is_valid_upn(u) and u[1:4] == "999" for u in upns)
    assert all(is_valid_nhs_number(n) for n in numbers)


def test_a_mistyped_upn_fails_its_check_letter():
    upn = make_upns("999", np.random.default_rng(1), 1)[0]
    swapped = upn[:5] + upn[6] + upn[5] + upn[7:]
    changed = upn[:-1] + str((int(upn[-1]) + 1) % 10)
    assert is_valid_upn(upn)
    assert not is_valid_upn(changed)
    assert swapped == upn or not is_valid_upn(swapped)
