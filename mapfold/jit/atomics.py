"""Atomic operations, a sleep and a row copy that jitted ``nogil`` code can call.

Numba has no atomics for the CPU target, and the worker threads and the consumer thread share
counters (the task counter, the sender's lane counters), so these intrinsics emit the LLVM
instructions directly. Each one works on one element of a one-dimensional integer array
(``array[index]``), which is how the shared state is held: numpy arrays that Python and every
thread can see.

Orderings follow the usual publish/consume pattern: a producer writes a row and then *releases*
its lane's counter; the consumer *acquires* the counter before it reads the rows it covers.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from mapfold.jit import cache as jit_cache

jit_cache.install()  # every jitted module imports this one before it defines a cache=True function


def _element_pointer(context, builder, array_type, array_value, index_value):
    """Pointer to ``array[index]`` (no bounds check: callers index within their own arrays)."""
    array = context.make_array(array_type)(context, builder, array_value)
    return cgutils.get_item_pointer(context, builder, array_type, array, [index_value], wraparound=False)


def _check_array(array_type) -> None:
    if not (isinstance(array_type, types.Array) and array_type.ndim == 1 and isinstance(array_type.dtype, types.Integer)):
        raise TypeError("atomics work on one-dimensional integer arrays")


@intrinsic
def atomic_add(typingctx, array, index, value):
    """Add ``value`` to ``array[index]``; return the value it held before."""
    _check_array(array)

    def codegen(context, builder, signature, arguments):
        array_value, index_value, add_value = arguments
        pointer = _element_pointer(context, builder, signature.args[0], array_value, index_value)
        add_value = context.cast(builder, add_value, signature.args[2], array.dtype)
        return builder.atomic_rmw("add", pointer, add_value, "seq_cst")

    return array.dtype(array, index, value), codegen


@intrinsic
def atomic_load_acquire(typingctx, array, index):
    """Read ``array[index]`` so that writes released before it are visible after it."""
    _check_array(array)

    def codegen(context, builder, signature, arguments):
        array_value, index_value = arguments
        pointer = _element_pointer(context, builder, signature.args[0], array_value, index_value)
        return builder.load_atomic(pointer, "acquire", array.dtype.bitwidth // 8)

    return array.dtype(array, index), codegen


@intrinsic
def atomic_store_release(typingctx, array, index, value):
    """Write ``array[index]`` after every write that came before it in this thread."""
    _check_array(array)

    def codegen(context, builder, signature, arguments):
        array_value, index_value, store_value = arguments
        pointer = _element_pointer(context, builder, signature.args[0], array_value, index_value)
        store_value = context.cast(builder, store_value, signature.args[2], array.dtype)
        builder.store_atomic(store_value, pointer, "release", array.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return types.none(array, index, value), codegen


@intrinsic
def sleep_microseconds(typingctx, microseconds):
    """Sleep without holding the GIL (libc ``usleep``): how a blocked producer waits its turn."""
    if not isinstance(microseconds, types.Integer):
        raise TypeError("microseconds must be an integer")

    def codegen(context, builder, signature, arguments):
        usleep_type = ir.FunctionType(ir.IntType(32), [ir.IntType(32)])
        usleep = cgutils.get_or_insert_function(builder.module, usleep_type, "usleep")
        builder.call(usleep, [context.cast(builder, arguments[0], signature.args[0], types.uint32)])
        return context.get_dummy_value()

    return types.none(microseconds), codegen


@intrinsic
def copy_row(typingctx, target, target_row, source):
    """Copy the one-dimensional ``source`` into row ``target_row`` of the 2-D C-contiguous ``target``.

    One ``memcpy`` with no loop in numba's IR: a loop would split the caller into blocks across
    which numba cannot cancel its reference counting, which then costs more than the copy.
    """
    if not (isinstance(target, types.Array) and target.ndim == 2 and target.layout == "C"):
        raise TypeError("copy_row needs a 2-D C-contiguous target")
    if not (isinstance(source, types.Array) and source.ndim == 1 and source.dtype == target.dtype):
        raise TypeError("copy_row needs a 1-D source of the target's dtype")

    def codegen(context, builder, signature, arguments):
        target_value, row_value, source_value = arguments
        target_array = context.make_array(signature.args[0])(context, builder, target_value)
        source_array = context.make_array(signature.args[2])(context, builder, source_value)
        width = builder.extract_value(target_array.shape, 1)
        row_start = cgutils.get_item_pointer(
            context, builder, signature.args[0], target_array, [row_value, context.get_constant(types.intp, 0)], wraparound=False
        )
        item_size = context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(target.dtype)))
        cgutils.raw_memcpy(builder, row_start, source_array.data, width, item_size)
        return context.get_dummy_value()

    return types.none(target, target_row, source), codegen
