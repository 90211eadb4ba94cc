"""Turning user inputs into things a tape can differentiate.

Every public helper routes its sources and watch lists through this file, so
the dtype rules and their error messages live in one place.
"""

import numbers

import numpy as np
import tensorflow as tf

try:  # Keras 3 ships its own Variable class, which is not a tf.Variable.
    from keras import Variable as _KerasVariable
except ImportError:  # pragma: no cover - Keras 3 comes with TF 2.16+
    _KerasVariable = ()


def is_keras_variable(x):
    """True for a Keras 3 ``keras.Variable`` (not a ``tf.Variable``)."""
    return bool(_KerasVariable) and isinstance(x, _KerasVariable)


def is_variable(x):
    """True for a ``tf.Variable`` or a Keras 3 ``keras.Variable``."""
    return isinstance(x, tf.Variable) or is_keras_variable(x)


def describe(x):
    """A short 'what was received' for error messages: type, dtype and shape."""
    name = type(x).__name__
    dtype = getattr(x, "dtype", None)
    shape = getattr(x, "shape", None)
    if dtype is None:
        return f"{name} {x!r}"
    dtype = getattr(dtype, "name", dtype)
    return f"{name} of dtype={dtype}, shape={tuple(shape) if shape is not None else '?'}"


def is_float(x):
    """True when ``x`` (a tensor, variable, array or dtype holder) has a floating or
    complex dtype: the dtypes a tape differentiates."""
    dtype = tf.as_dtype(x.dtype)
    return dtype.is_floating or dtype.is_complex


def check_float(x, what):
    """Raise TypeError unless ``x`` has a floating (or complex) dtype."""
    if not is_float(x):
        dtype = tf.as_dtype(x.dtype)
        raise TypeError(
            f"{what} must have a floating dtype to be differentiated; gradients "
            f"with respect to {dtype.name} values are not defined. Received: "
            f"{describe(x)}. Cast it first, e.g. tf.cast(x, tf.float32)."
        )


def _number(x, what):
    """A Python or NumPy scalar number as a float32 scalar, when float32 holds it exactly.

    One rule for all numbers: floats, and integers that float32 holds exactly
    (all up to 2**24 in size), become float32 scalars (3 -> 3.0); any other
    integer raises, since float32 would round it (2**24 + 1 would come back as
    16777216).
    """
    if isinstance(x, (numbers.Integral, np.integer)) and int(np.float32(int(x))) != int(x):
        raise TypeError(
            f"{what} is an integer that float32 cannot hold exactly, and a number "
            f"source becomes float32. Received: {int(x)}. Pass a float64 tensor, e.g. "
            f"tf.constant({int(x)}, tf.float64), or a float.")
    if isinstance(x, np.floating):
        return tf.constant(x)  # a NumPy float keeps its dtype, like an array
    return tf.constant(float(x), dtype=tf.float32)  # 5 -> 5.0 (float32)


def as_source(x, position=0):
    """Convert one differentiation source to a TF object.

    Variables (``tf.Variable``, ``keras.Variable``), float or complex tensors and
    ``tf.RaggedTensor``s pass through unchanged; NumPy arrays become tensors of
    the same dtype; Python numbers and NumPy integer scalars become float32
    scalars, integers only when float32 holds them exactly (all up to 2**24),
    and Python complex numbers complex64 scalars; NumPy float and complex
    scalars keep their dtype. Bool values, and integer arrays and tensors, raise
    TypeError.
    """
    what = f"Source {position}"
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(
            f"{what} must have a floating dtype to be differentiated; gradients "
            f"with respect to bool values are not defined. Received: {x!r}. "
            "Pass a float instead, e.g. 1.0."
        )
    if isinstance(x, (numbers.Real, np.integer, np.floating)):
        return _number(x, what)
    if isinstance(x, np.complexfloating):
        return tf.constant(x)  # a NumPy complex keeps its dtype
    if isinstance(x, complex):
        return tf.constant(x, dtype=tf.complex64)  # 3+4j -> complex64, as float -> float32
    if is_variable(x) or isinstance(x, (tf.Tensor, tf.RaggedTensor)):
        check_float(x, what)
        return x
    if isinstance(x, (np.ndarray, np.generic)):
        check_float(x, what)
        return tf.convert_to_tensor(x)
    raise TypeError(
        f"{what} must be a tf.Variable, keras.Variable, tf.Tensor, tf.RaggedTensor, "
        f"NumPy array or number (or, where a helper takes structures, a dict, tuple or "
        f"list of them). Received: {describe(x)}. Convert it first with tf.constant(...) "
        "(tf.ragged.constant(...) for rows of different lengths)."
    )


def as_source_of_any_dtype(x, position=0):
    """:func:`as_source`, except that a source whose only fault is its dtype passes.

    ``explain_none`` explains an integer, bool or string source instead of
    refusing it: tensors, variables and ``tf.RaggedTensor``s of any dtype pass
    unchanged, and bools and non-float NumPy values become tensors. Anything
    ``as_source`` refuses for its kind (a dict, a list, None, a string) raises
    its ``TypeError``, as in ``value_and_gradient``.

    >>> as_source_of_any_dtype(np.array([1, 2])).dtype.name
    'int64'
    """
    if is_variable(x) or isinstance(x, (tf.Tensor, tf.RaggedTensor)):
        return x
    if isinstance(x, (bool, np.bool_)) or (
            isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind not in "fc"):
        return tf.convert_to_tensor(x)
    return as_source(x, position)


def _at_least_one(sources):
    if not sources:
        raise TypeError(
            "At least one source is required: the values to differentiate with "
            "respect to. Received: no sources. Call e.g. value_and_gradient(f, x)."
        )


def as_sources(sources):
    """Apply :func:`as_source` to every source; at least one is required."""
    _at_least_one(sources)
    return tuple(as_source(x, i) for i, x in enumerate(sources))


def as_structured_sources(sources):
    """Apply :func:`as_structured_source` to every source; at least one is required."""
    _at_least_one(sources)
    return tuple(as_structured_source(x, i) for i, x in enumerate(sources))


def map_leaves(fn, value, path=""):
    """``fn(leaf, path)`` on every leaf of nested dicts and tuples, rebuilt around the results.

    Dicts and tuples (namedtuples too) are structures, as a Keras model with
    several inputs reads them; anything else is a leaf, a list included (one
    array, as ``tf.constant([[1.0], [2.0]])`` reads it). ``path`` names the leaf
    for error messages: ``"['a'][0]"``.

    >>> map_leaves(lambda leaf, path: path, {"a": (1, 2), "b": [3, 4]})
    {'a': ("['a'][0]", "['a'][1]"), 'b': "['b']"}
    """
    if isinstance(value, dict):
        return {k: map_leaves(fn, v, f"{path}[{k!r}]") for k, v in value.items()}
    if isinstance(value, tuple):
        items = [map_leaves(fn, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    return fn(value, path)


def as_structured_source(x, position=0):
    """:func:`as_source` on every leaf of ``x``, a source or a dict or tuple of them (nested).

    For the helpers that differentiate with respect to a structure, as
    ``tape.jacobian`` does; an error names the leaf (``Source 0['b']``). A
    structure with no leaf raises TypeError: there is nothing to differentiate.
    """
    leaves = []

    def convert(leaf, path):
        leaves.append(as_source(leaf, f"{position}{path}"))
        return leaves[-1]

    converted = map_leaves(convert, x)
    if not leaves:
        raise TypeError(
            f"Source {position} must hold at least one tensor to differentiate. Received: "
            f"an empty structure, {x!r}. Pass the values themselves, or a dict or tuple "
            "holding them."
        )
    return converted


def dense_only(sources, helper):
    """Refuse ``tf.RaggedTensor`` sources where ``helper`` works on dense tensors only.

    ``tape.gradient`` takes ragged sources (as ``value_and_gradient`` and ``grad``
    do); ``tape.jacobian``, ``ForwardAccumulator`` and finite differences do not.
    """
    for i, x in enumerate(sources):
        if isinstance(x, tf.RaggedTensor):
            raise TypeError(
                f"`{helper}` needs dense sources, as tape.jacobian and "
                f"ForwardAccumulator do. Received: source {i}, a tf.RaggedTensor of "
                f"shape {tuple(x.shape)}. Pass its flat_values and rebuild it inside "
                "fn, e.g. tf.RaggedTensor.from_row_splits(values, r.row_splits).")
    return sources


def tensor_arguments(fn, sources):
    """``(traced, positions)`` for tracing ``fn(*sources)``: ``positions`` are the sources
    that are not variables, and ``traced(*tensors)`` calls ``fn`` with those sources
    replaced by its arguments, in order (variables are captured as they are).

    >>> traced, positions = tensor_arguments(lambda a, v: a * v, (1.0, tf.Variable(3.0)))
    >>> positions, float(traced(tf.constant(2.0)))
    ([0], 6.0)
    """
    positions = [i for i, s in enumerate(sources) if not is_variable(s)]

    def traced(*args):
        merged = list(sources)
        for i, arg in zip(positions, args):
            merged[i] = arg
        return fn(*merged)

    return traced, positions


def watchable(x):
    """What ``tf.GradientTape.watch`` accepts for ``x``.

    A Keras 3 Variable is not a tf.Variable, and ``tape.watch`` rejects it with
    ValueError; the tf.Variable it wraps (``x.value``) is what the tape sees
    when the variable is used, so that is what we watch.
    """
    if is_keras_variable(x):
        check_float(x, "A watched variable")
        return x.value
    if isinstance(x, (tf.Variable, tf.Tensor, tf.RaggedTensor)):
        check_float(x, "A watched tensor")
        return x
    raise TypeError(
        "`watch` must hold tf.Tensor, tf.Variable or keras.Variable objects "
        f"(possibly in nested lists, tuples or dicts). Received: {describe(x)}. "
        "A tape can only watch the very tensor your computation uses: convert "
        "first (x = tf.constant(x)), then watch x and compute with x."
    )
