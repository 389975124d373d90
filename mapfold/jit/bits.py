"""Bit operations on 64-bit gap masks for jitted code.

A set of gaps (positions where a leaf may go) is a ``uint64`` with bit ``m`` set for the gap below
leaf ``m``. The walk needs the lowest set bit (the next gap to try) and the number of set bits (the
completions below a node whose only missing leaf is the last one); LLVM has single instructions for
both, and numba does not expose them.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from mapfold.jit import cache as jit_cache

jit_cache.install()  # every jitted module imports this one before it defines a cache=True function


@intrinsic
def popcount(typingctx, mask):
    """Number of set bits of a ``uint64``."""
    if mask != types.uint64:
        raise TypeError("popcount takes a uint64")

    def codegen(context, builder, signature, arguments):
        count = builder.ctpop(arguments[0])
        return builder.sext(count, ir.IntType(64)) if count.type.width < 64 else count

    return types.int64(types.uint64), codegen


@intrinsic
def lowest_bit_index(typingctx, mask):
    """Index of the lowest set bit of a non-zero ``uint64``."""
    if mask != types.uint64:
        raise TypeError("lowest_bit_index takes a uint64")

    def codegen(context, builder, signature, arguments):
        return builder.cttz(arguments[0], cgutils.true_bit)

    return types.int64(types.uint64), codegen
