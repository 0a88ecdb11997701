"""The national identifiers agencies hold: the Unique Pupil Number and the NHS number.

Both carry a check character, so a mistyped one can usually be told from a real one. The
rules are the published ones: the DfE's UPN check letter (*A guide to the Unique Pupil
Number*, DfE) and the NHS number's modulus 11 check digit (NHS Data Dictionary, "NHS
NUMBER").
"""

from __future__ import annotations

import numpy as np

UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
"""The 23 letters a UPN's check letter is drawn from (no I, O or S)."""


def upn_check_letter(body: str) -> str:
    """The check letter of a UPN whose last twelve characters are ``body`` (all digits)."""
    total = sum(int(ch) * weight for ch, weight in zip(body, range(2, 14), strict=True))
    return UPN_LETTERS[total % 23]


def make_upns(la_code: str, rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct, valid UPNs issued by the local authority ``la_code`` (three digits).

    A UPN is a check letter, the LA code, a two-digit year of allocation and seven digits
    of the school's and the pupil's serial numbers.
    """
    serials = rng.choice(10**9, size=n, replace=False)
    upns = []
    for serial in serials:
        body = f"{la_code}{serial:09d}"
        upns.append(upn_check_letter(body) + body)
    return upns


def is_valid_upn(upn: str) -> bool:
    """Whether ``upn`` has the shape of a UPN and its check letter agrees."""
    if len(upn) != 13 or not upn[1:].isdigit():
        return False
    return upn[0] == upn_check_letter(upn[1:])


def nhs_check_digit(first_nine: str) -> int | None:
    """The check digit of an NHS number starting ``first_nine``; None if none is valid."""
    total = sum(int(ch) * weight for ch, weight in zip(first_nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def make_nhs_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct, valid ten-digit NHS numbers (first digit 4 to 9, as issued in England)."""
    numbers: list[str] = []
    seen: set[str] = set()
    while len(numbers) < n:
        for draw in rng.integers(400_000_000, 1_000_000_000, size=2 * (n - len(numbers))):
            first_nine = str(draw)
            check = nhs_check_digit(first_nine)
            if check is None or first_nine in seen:
                continue
            seen.add(first_nine)
            numbers.append(f"{first_nine}{check}")
            if len(numbers) == n:
                break
    return numbers


def is_valid_nhs_number(number: str) -> bool:
    """Whether ``number`` is ten digits whose modulus 11 check digit agrees."""
    if len(number) != 10 or not number.isdigit():
        return False
    return nhs_check_digit(number[:9]) == int(number[9])
