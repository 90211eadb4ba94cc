"""The one compile cache: a compiled callable is reused only when the call is certainly the same.

Its users: ``jacobian``, ``hessian`` and ``hvp`` (per ``fn``),
``per_example_gradients`` (per model), ``fine_tune``'s compiled step and its
cached-body split (per model). One rule for all of them:

- **The owner is held weakly** (a function or a model): its entries go when it
  goes. An owner that cannot be weakly referenced is not cached.
- **Bounded**: at most ``size`` entries per owner; the least recently used goes.
- **The same call** means equal keys, and every part of a key is a
  :func:`fingerprint` that changes whenever the result could:

  * values (None, bools, numbers, strings, NumPy arrays and scalars, object
    arrays, and lists, tuples, dicts (their subclasses too), sets and frozensets
    of them) by value, looking inside the containers, however deep;
  * Python functions by their code *and* by the fingerprints of everything they
    read that a trace would bake in: closure cells (``nonlocal`` too), default
    arguments, the globals their code names, and the attributes it reads of a
    module it names (``cfg.S`` after ``import cfg``). So ``scale = [1.0]; f =
    lambda x: scale[0] * x**2`` is traced again once ``scale[0] = 3.0``;
  * a built-in Keras loss by its class, config and dtype (its config holds all
    its state); a user-defined ``keras.losses.Loss`` by its class and its full
    state (``vars``), so ``Scaled(1.0)`` and ``Scaled(100.0)`` never share a trace;
  * ``tf.TypeSpec`` (input signatures) by value;
  * ``functools.partial`` objects by their function and arguments; bound
    methods by their function and object; a callable object by what its
    class's ``__call__`` reads (and by identity);
  * anything else (variables, tensors, models, optimizers, strategies, modules,
    other objects) by identity, held by the entry so that its ``id`` cannot be
    reused.

Not seen: a change inside an object counted by identity, e.g. an attribute of
some object that ``fn`` reads (``self.scale`` of a callable object). Pass such a
value as an argument, keep it in a ``tf.Variable`` (read at run time), or in a
closure or global. The price of the rule: each call hashes what ``fn`` reads (a
large NumPy array about 1 ms per MB, read in place, never copied: keep big
constants in a ``tf.constant``, counted by identity), and a ``fn`` that changes
what it reads (appends to a list it closes over) is traced again on every call.

Why compiled callables are ``functools.partial`` objects of module-level
functions, with the owner behind a weak reference: TF's "triggered tf.function
retracing" warning counts traces per *code object*, and every closure made by
one ``lambda`` or nested ``def`` shares one, so several users' functions would
read as one function retracing; and a closure over the owner would keep it alive.
"""

import collections
import dis
import functools
import hashlib
import inspect
import os
import sysconfig
import types
import weakref

import numpy as np

_VALUES = (type(None), bool, int, float, complex, str, bytes)
# code of installed libraries (TF, Keras, NumPy, the standard library) and of tapelab
# itself does not change between calls: its functions count by identity, unread
_LIBRARIES = tuple(sorted({os.path.realpath(p) + os.sep for p in (
    *(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")),
    os.path.dirname(os.path.abspath(__file__)))}))
_DEPTH = 64  # a structure deeper than this is hashed by identity (a cycle is caught anyway)


def _digest(array):
    """A 16-byte hash of an array's bytes, read in place where the buffer allows it (no
    copy: 1 GB costs no memory); datetime arrays, which no buffer exposes, are copied."""
    data = np.ascontiguousarray(array)  # no copy when it is one already
    try:
        view = memoryview(data).cast("B")
    except (ValueError, TypeError):  # datetime64, timedelta64: no buffer format
        view = data.tobytes()
    return hashlib.blake2b(view, digest_size=16).digest()


def _keras_loss(obj):
    try:
        import keras
    except ImportError:  # pragma: no cover - keras ships with TensorFlow
        return False
    return isinstance(obj, keras.losses.Loss)


@functools.lru_cache(maxsize=4096)
def _global_names(code):
    """The global names ``code`` (and the functions defined inside it) load.

    Only LOAD_GLOBAL / LOAD_NAME instructions count: an attribute (``batch.data``)
    is not a global, even when a global of that name exists.
    """
    names = {ins.argval for ins in dis.get_instructions(code)
             if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return frozenset(names)


def fingerprint(obj, pins, owner=None, depth=0, seen=None):
    """A hashable stand-in for ``obj`` that differs whenever a trace of it could.

    Args:
      obj: a part of a call (a function, a loss, a value, a variable...).
      pins: a list; objects compared by identity are appended, so that the cache
        entry keeps them alive and their ``id`` is not reused.
      owner: the cache's owner: named by a marker, never pinned (the entry must
        not keep it alive).

    Returns:
      A tuple of hashable values.
    """
    seen = set() if seen is None else seen
    if obj is owner and owner is not None and (not _readable(obj) or id(obj) in seen):
        # never pinned; a callable object is read through its class's __call__
        call = inspect.getattr_static(type(obj), "__call__", None)
        inside = (fingerprint(call, pins, owner, depth + 1, seen | {id(obj)})
                  if isinstance(call, types.FunctionType) and id(obj) not in seen else ())
        return ("owner", inside)
    if isinstance(obj, (float, complex)):  # repr tells -0.0 from 0.0, and nan equals nan
        return (type(obj).__name__, repr(obj))
    if isinstance(obj, _VALUES):
        return (type(obj).__name__, obj)
    if isinstance(obj, np.generic):
        return ("np", obj.dtype.str, obj.tobytes())
    if isinstance(obj, np.ndarray) and obj.dtype != object:
        return ("array", obj.dtype.str, obj.shape, _digest(obj))
    if depth < _DEPTH and id(obj) not in seen:
        parts = functools.partial(fingerprint, pins=pins, owner=owner, depth=depth + 1,
                                  seen=seen | {id(obj)})
        if isinstance(obj, np.ndarray):  # an object array: its elements, each read
            return ("object-array", obj.shape, tuple(parts(x) for x in obj.ravel()))
        if type(obj) in (list, tuple) or (isinstance(obj, tuple) and hasattr(obj, "_fields")):
            return (type(obj).__name__, tuple(parts(x) for x in obj))
        if isinstance(obj, dict):  # OrderedDict, defaultdict...
            return ("dict", type(obj).__name__,
                    tuple((parts(k), parts(v)) for k, v in obj.items()))
        if isinstance(obj, (set, frozenset)):
            return ("set", frozenset(parts(x) for x in obj))
        if isinstance(obj, types.FunctionType) and not _library(obj.__code__):
            return _function(obj, pins, parts)
        if isinstance(obj, types.MethodType):
            return ("method", parts(obj.__func__), parts(obj.__self__))
        if isinstance(obj, functools.partial):
            return ("partial", parts(obj.func), parts(obj.args), parts(obj.keywords))
        if _keras_loss(obj):
            if type(obj).__module__.startswith("keras."):
                return ("keras-loss", _pin(type(obj), pins), parts(obj.get_config()),
                        str(obj.dtype))
            return ("loss", _pin(type(obj), pins), parts(vars(obj)))
    if _is_type_spec(obj):
        return ("spec", obj)
    if isinstance(obj, types.ModuleType):
        return ("module", obj.__name__)
    return ("id", _pin(obj, pins))


def _readable(obj):
    """Whether :func:`fingerprint` reads what ``obj`` holds (rather than its identity)."""
    return isinstance(obj, (types.FunctionType, types.MethodType, functools.partial))


def _pin(obj, pins):
    pins.append(obj)
    return id(obj)


def _is_type_spec(obj):
    import tensorflow as tf

    return isinstance(obj, tf.TypeSpec)


@functools.lru_cache(maxsize=4096)
def _library(code):
    return os.path.realpath(code.co_filename).startswith(_LIBRARIES)


def _function(fn, pins, parts):
    """A Python function: its code, and what the code reads that a trace bakes in."""
    code = fn.__code__
    cells = tuple(parts(cell.cell_contents) if _filled(cell) else ("empty",)
                  for cell in fn.__closure__ or ())
    names = sorted(n for n in _global_names(code) if n in fn.__globals__)
    globals_read = tuple((n, parts(fn.__globals__[n])) for n in names)
    attributes = tuple(  # cfg.S, pkg.settings.S: the value, not the module
        (chain, parts(_through_modules(fn.__globals__[chain[0]], chain[1:])))
        for chain in sorted(_module_attributes(code))
        if isinstance(fn.__globals__.get(chain[0]), types.ModuleType)
        and not _library_module(fn.__globals__[chain[0]]))
    return ("function", _pin(code, pins), cells, globals_read, attributes,
            parts(fn.__defaults__), parts(fn.__kwdefaults__))


@functools.lru_cache(maxsize=4096)
def _module_attributes(code):
    """The chains ``(global name, attribute, ...)`` ``code`` reads as ``name.a.b`` (and the
    functions defined inside it do)."""
    chains, chain = set(), None
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and chain is not None:
            chain = (*chain, ins.argval)
            continue
        if chain is not None and len(chain) > 1:
            chains.add(chain)
        chain = (ins.argval,) if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") else None
    if chain is not None and len(chain) > 1:
        chains.add(chain)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            chains |= _module_attributes(const)
    return frozenset(chains)


def _through_modules(obj, attributes):
    """What ``obj.a.b`` reads, followed while it is a user's module (``pkg.settings.S``);
    at the first object that is not, that object (read by the fingerprint's rules)."""
    for name in attributes:
        if not isinstance(obj, types.ModuleType) or _library_module(obj):
            break
        obj = getattr(obj, name, None)
    return obj


def _library_module(module):
    """A module of an installed library or of tapelab: its attributes are code, not data."""
    import sys

    path = getattr(module, "__file__", None)
    if path is None:  # built in (sys, math), or made at run time (types.ModuleType)
        return module.__name__ in sys.builtin_module_names
    return _library_path(path)


@functools.lru_cache(maxsize=4096)
def _library_path(path):
    """Whether the file at ``path`` belongs to an installed library or to tapelab (a
    module's file does not move: asked on every call, resolved once)."""
    return os.path.realpath(path).startswith(_LIBRARIES)


def _filled(cell):
    try:
        _ = cell.cell_contents
    except ValueError:  # a cell whose variable is not assigned yet
        return False
    return True


class CompileCache:
    """Compiled callables per owner (held weakly), bounded, reused only for the same call."""

    RETRACES = 5  # traces of one owner and setting before the warning

    def __init__(self, size=8):
        self.size = size
        self._owners = weakref.WeakKeyDictionary()
        self._traces = weakref.WeakKeyDictionary()  # owner -> {setting: traces}

    def get(self, owner, parts, build):
        """The callable compiled for ``parts`` on ``owner``; ``build()`` makes it on a miss.

        Args:
          owner: the function or model the entry belongs to (held weakly).
          parts: a tuple of everything the compiled callable depends on.
          build: a function of no argument returning the compiled callable.
        """
        pins = []
        key = tuple(fingerprint(part, pins, owner) for part in parts)
        try:
            entries = self._owners.setdefault(owner, collections.OrderedDict())
        except TypeError:  # the owner cannot be weakly referenced: compile, keep nothing
            return build()
        hit = entries.get(key)
        if hit is not None:
            entries.move_to_end(key)
            return hit[1]
        compiled = build()
        entries[key] = (pins, compiled)
        while len(entries) > self.size:
            entries.popitem(last=False)
        self._count(owner, key[0])
        return compiled

    def _count(self, owner, setting):
        """Warn once when one owner is traced again and again for one setting: a value
        its function reads changes on every call (the trace-counter list of JAX's idiom)."""
        counts = self._traces.setdefault(owner, {})
        counts[setting] = counts.get(setting, 0) + 1
        if counts[setting] == self.RETRACES:
            from tapelab._user_warnings import warn

            name = getattr(owner, "__name__", type(owner).__name__)
            warn(f"tapelab traced {name} {self.RETRACES} times for one setting: a value it "
                 "reads changed between calls each time (a closure, a global, a module's "
                 "attribute; a list it appends to counts too). The cache never serves an old "
                 "answer, so each change is a new trace. Keep a value that changes per call "
                 "in a tf.Variable or pass it as an argument; count traces with a "
                 "collections.deque or itertools.count, which are read by identity.")

    def function(self, fn, key, impl):
        """``impl(fn, *args)`` as a tf.function cached per ``fn`` (the owner) and ``key``.

        Inside a user's tf.function it runs inline, uncompiled. A ``fn`` that
        cannot be weakly referenced is compiled on each call and not kept.
        """
        import tensorflow as tf

        if not tf.executing_eagerly():
            return functools.partial(impl, fn)
        return self.compiled(fn, key, impl, _build)

    def compiled(self, fn, key, impl, build):
        """``build(impl, ref)`` cached per ``fn`` (the owner, held weakly) and ``key``, with
        ``ref()`` giving ``fn`` back: what :meth:`function` does, with another compiler."""
        owner = fn
        if isinstance(fn, types.MethodType):  # obj.f is a new object on each access:
            owner, ref = fn.__self__, weakref.WeakMethod(fn)  # the entry belongs to obj
        else:
            try:
                ref = weakref.ref(fn)
            except TypeError:
                ref = functools.partial(_identity, fn)
        return self.get(owner, (key, fn), functools.partial(build, impl, ref))

    def entries(self, owner):
        """How many compiled callables ``owner`` has here (for tests and curiosity)."""
        return len(self._owners.get(owner, ()))

    def values(self, owner):
        """The compiled callables of ``owner``, oldest first."""
        return [compiled for _, compiled in self._owners.get(owner, {}).values()]


def _identity(value):
    return value


def _build(impl, ref):
    import tensorflow as tf

    return tf.function(functools.partial(_call, impl, ref), reduce_retracing=True)


def _call(impl, ref, *args):  # runs while tracing only
    from tapelab._keras_internals import quiet_autograph

    with quiet_autograph():
        return impl(ref(), *args)
