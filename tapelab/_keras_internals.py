"""Every private Keras or TensorFlow attribute tapelab reads, each behind one small function.

Keras 3 and TF expose no public way to do these few things. Keeping them here
means a Keras release that renames one breaks one function, and
``tests/test_keras_internals.py`` names the attribute that is gone, instead of
a traceback somewhere in a training loop. ``ATTRIBUTES`` lists them all, with
an object of the installed Keras that must have each.
"""

import contextlib
import logging

import keras


def sub_layers(layer):
    """The layers a (non-model) layer tracks as attributes, one level down.

    Reads ``Layer._flatten_layers``: Keras's own walk of a layer's tracked
    sub-layers (a custom layer holding Dense layers, say). Models use ``.layers``.
    """
    return list(layer._flatten_layers(include_self=False, recursive=False))


def functional_graph(model):
    """The functional graph behind ``model``, or None when it has none.

    Reads ``Sequential._functional``: a built Sequential model keeps a
    functional model inside, whose graph says which layer feeds which.
    A functional model is its own graph.
    """
    graph = getattr(model, "_functional", None) if isinstance(model, keras.Sequential) else model
    return graph if graph is not None and hasattr(graph, "_nodes_by_depth") else None


def nodes_by_depth(graph):
    """``{depth: [node, ...]}`` of a functional graph: reads ``Functional._nodes_by_depth``,
    where depth 0 holds the nodes that make the outputs."""
    return graph._nodes_by_depth


def optimizer_variable_keys(optimizer):
    """The keys of the variables a built optimizer updates, or None if it has none yet.

    Reads ``Optimizer._trainable_variables_indices``: Keras 3 builds an optimizer
    for one list of variables and raises "Unknown variable" for any other.
    """
    return getattr(optimizer, "_trainable_variables_indices", None)


def optimizer_key(optimizer, variable):
    """The key under which ``optimizer`` knows ``variable``: reads ``Optimizer._var_key``."""
    return optimizer._var_key(variable)


def optimizer_strategy(optimizer, default):
    """The ``tf.distribute`` strategy an optimizer was created under (``default`` if it
    records none): reads ``Optimizer._distribution_strategy`` (TF backend)."""
    return getattr(optimizer, "_distribution_strategy", default)


def learning_rate_object(optimizer):
    """What an optimizer was given as its learning rate (a number, a variable or a
    schedule): reads ``Optimizer._learning_rate``."""
    return getattr(optimizer, "_learning_rate", None)


def in_multi_worker_mode(strategy):
    """Whether ``strategy`` spans several worker processes: reads
    ``StrategyExtended._in_multi_worker_mode`` (MultiWorkerMirroredStrategy)."""
    return bool(getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)())


def set_initial_epoch(model, epoch):
    """Make ``model.fit`` start at ``epoch`` (None: at its ``initial_epoch`` argument), as
    Keras's ``BackupAndRestore`` does from ``on_train_begin``: writes
    ``Trainer._initial_epoch``, which ``fit`` reads after that hook."""
    model._initial_epoch = epoch


class _Silence(logging.Filter):
    """Drops the ``tensorflow`` logger's records whose message starts with one of ``prefixes``."""

    def __init__(self, *prefixes):
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record):
        return not str(record.msg).startswith(self.prefixes)


_QUIET = _Silence("AutoGraph could not transform")
_COMPLEX_PRIMAL = _Silence("The dtype of the watched primal must be floating")


@contextlib.contextmanager
def quiet_complex_forward():
    """Inside the block, ``tf.autodiff.ForwardAccumulator``'s warning "The dtype of the
    watched primal must be floating ..., got tf.complex64" is not shown: its jvp of a
    complex primal is right (tests/test_cookbook.py checks it against JAX's), and tapelab
    refuses integer primals before. Filters TF's ``tensorflow`` logger."""
    logger = logging.getLogger("tensorflow")
    logger.addFilter(_COMPLEX_PRIMAL)
    try:
        yield
    finally:
        logger.removeFilter(_COMPLEX_PRIMAL)


@contextlib.contextmanager
def quiet_autograph():
    """Inside the block, AutoGraph's "could not transform ... report this to the TensorFlow
    team" warning is not shown: tapelab compiles a user's function, and a lambda whose
    source AutoGraph cannot find (in a REPL, or two on one line) then simply runs as
    written. Reads ``autograph.utils.ag_logging.echo_log_to_stdout`` (its echo to
    stdout in interactive sessions) and filters TF's ``tensorflow`` logger."""
    from tensorflow.python.autograph.utils import ag_logging

    logger = logging.getLogger("tensorflow")
    echo = ag_logging.echo_log_to_stdout
    logger.addFilter(_QUIET)
    ag_logging.echo_log_to_stdout = False
    try:
        yield
    finally:
        ag_logging.echo_log_to_stdout = echo
        logger.removeFilter(_QUIET)


@contextlib.contextmanager
def name_scopes_kept():
    """Keras's global stack of name scopes, as it was before the block, after it.

    Reads the global attribute ``name_scope_stack`` (``keras.src.backend.common.
    global_state``). A layer whose call fails while Keras enters its name scope (a
    name TensorFlow refuses, such as ``"a&b"``, in a graph) leaves that scope on the
    stack, and every variable made later gets it in its path; restoring the stack
    undoes that.
    """
    from keras.src.backend.common import global_state

    stack = global_state.get_global_attribute("name_scope_stack")
    saved = list(stack) if stack is not None else []
    try:
        yield
    finally:
        now = global_state.get_global_attribute("name_scope_stack")
        if now is not None and now != saved:
            now[:] = saved


def call_flat(concrete, tensors):
    """Run a traced ``ConcreteFunction`` on exactly the flat tensors it was traced for,
    skipping the binding of its structured signature (about a third of its per-call
    cost on a tiny function: benchmarks/bench_jax.py): reads
    ``ConcreteFunction._call_flat``, as its ``__call__`` does after binding."""
    return concrete._call_flat(list(tensors), concrete.captured_inputs)


def dataset_ops(dataset):
    """``[(op type, node attributes)]`` of every op a ``tf.data.Dataset`` pipeline runs,
    its map functions included: reads ``DatasetV2._as_serialized_graph`` (TF)."""
    import tensorflow as tf

    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(dataset._as_serialized_graph().numpy())
    nodes = list(graph.node) + [n for f in graph.library.function for n in f.node_def]
    return [(n.op, n.attr) for n in nodes]


def compile_loss(loss, output_names):
    """The loss object ``model.compile(loss=...)`` makes: reads the private
    ``keras.src.trainers.compile_utils.CompileLoss``. It resolves names
    (``"mse"``), wraps plain functions in ``LossFunctionWrapper`` (rank matching
    of ``y_true`` and ``y_pred``, dtype casts, sample weights, the batch mean) and
    matches structured outputs: the loss ``fit`` computes."""
    from keras.src.trainers.compile_utils import CompileLoss

    return CompileLoss(loss, None, output_names=output_names)


def compile_metrics(metrics, output_names):
    """The metrics object ``model.compile(metrics=...)`` makes: reads the private
    ``keras.src.trainers.compile_utils.CompileMetrics`` (it resolves
    ``"accuracy"`` to the binary, sparse or categorical one by the shapes, as
    ``fit`` does)."""
    from keras.src.trainers.compile_utils import CompileMetrics

    return CompileMetrics(metrics, None, output_names=output_names)


def output_spec(fn, *args, **kwargs):
    """Run ``fn`` symbolically on ``KerasTensor`` arguments (creating any state it
    builds), as ``fit``'s symbolic build does: reads ``keras.src.backend.compute_output_spec``."""
    from keras.src.backend import compute_output_spec

    return compute_output_spec(fn, *args, **kwargs)


def split_for_validation(arrays, validation_split):
    """``fit``'s ``validation_split``: the last part of the arrays, before any
    shuffling. Reads ``keras.src.trainers.data_adapters.array_slicing.train_validation_split``."""
    from keras.src.trainers.data_adapters.array_slicing import train_validation_split

    return train_validation_split(arrays, validation_split=validation_split)


def class_weight_to_sample_weights(y, class_weight):
    """``fit``'s ``class_weight`` for arrays: reads
    ``keras.src.trainers.data_adapters.data_adapter_utils.class_weight_to_sample_weights``."""
    from keras.src.trainers.data_adapters.data_adapter_utils import (
        class_weight_to_sample_weights as convert,
    )

    return convert(y, class_weight)


def class_weight_map_fn(class_weight):
    """``fit``'s ``class_weight`` for a Dataset (a ``Dataset.map`` function): reads
    ``keras.src.trainers.data_adapters.tf_dataset_adapter.make_class_weight_map_fn``."""
    from keras.src.trainers.data_adapters.tf_dataset_adapter import make_class_weight_map_fn

    return make_class_weight_map_fn(class_weight)


# private Keras functions and classes read above: (module, name)
FUNCTIONS = (
    ("keras.src.trainers.compile_utils", "CompileLoss"),
    ("keras.src.trainers.compile_utils", "CompileMetrics"),
    ("keras.src.backend", "compute_output_spec"),
    ("keras.src.trainers.data_adapters.array_slicing", "train_validation_split"),
    ("keras.src.trainers.data_adapters.data_adapter_utils", "class_weight_to_sample_weights"),
    ("keras.src.trainers.data_adapters.tf_dataset_adapter", "make_class_weight_map_fn"),
    ("tensorflow.python.autograph.utils.ag_logging", "echo_log_to_stdout"),
)


def examples():
    """``(attribute, object of the installed Keras/TF that must have it)``: what
    ``tests/test_keras_internals.py`` checks, one pair per attribute above."""
    import tensorflow as tf

    dense = keras.layers.Dense(1)
    sequential = keras.Sequential([keras.Input((1,)), dense])
    functional = keras.Model(sequential.inputs, sequential.outputs)
    optimizer = keras.optimizers.SGD(0.1)
    optimizer.build(sequential.trainable_variables)
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0"])
    return [
        ("_flatten_layers", dense),
        ("_functional", sequential),
        ("_nodes_by_depth", functional),
        ("_trainable_variables_indices", optimizer),
        ("_var_key", optimizer),
        ("_distribution_strategy", optimizer),
        ("_learning_rate", optimizer),
        ("_in_multi_worker_mode", mirrored.extended),
        ("_initial_epoch", functional),
        ("_as_serialized_graph", tf.data.Dataset.range(1)),
        ("_call_flat", tf.function(lambda x: x).get_concrete_function(tf.constant(1.0))),
    ]


ATTRIBUTES = ("_flatten_layers", "_functional", "_nodes_by_depth",
              "_trainable_variables_indices", "_var_key", "_distribution_strategy", "_learning_rate",
              "_in_multi_worker_mode", "_initial_epoch", "_as_serialized_graph", "_call_flat")
