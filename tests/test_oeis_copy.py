"""The package's copy of the OEIS values equals the b-files it was copied from."""

from __future__ import annotations

from mapfold.oeis import VALUES, known_folds, known_symmetric


def test_package_copy_equals_b_files(oracle):
    for sequence, values in VALUES.items():
        assert values == oracle(sequence), sequence


def test_symmetric_identities_hold_in_the_b_files(oracle):
    """ceil(A001010(M - 1) / 2) is A007822(n) for M = 2n and A000682(n + 1) for M = 2n + 1."""
    a001010, a007822, a000682 = oracle("A001010"), oracle("A007822"), oracle("A000682")
    for strip in range(2, 31):
        expected = -(-a001010[strip - 1] // 2)
        if strip % 2 == 0:
            assert a007822[strip // 2] == expected
        else:
            assert a000682[(strip + 1) // 2] == expected


def test_lookups_pick_the_right_entry():
    assert known_folds((2, 5)) == ("A001415", 5, 1980)
    assert known_folds((5, 2)) == ("A001415", 5, 1980)
    assert known_folds((3, 3, 3)) == ("A195646", 3, 85109616)
    assert known_folds((4, 5)) is None
    assert known_symmetric((16,)) == ("A007822", 8, 935)
    assert known_symmetric((7,)) == ("A000682", 4, 4)
    assert known_symmetric((2, 5)) is None
