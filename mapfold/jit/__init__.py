"""Numba plumbing shared by every jitted module: the checked compiled-code cache, bit tricks, atomics."""
