"""The fine-tuning engine: train a subset of a Keras model's layers as ``fit`` would.

``select`` resolves a layer selection once into a :class:`~tapelab.fine_tuning.select.Selection`;
``step`` is THE training step (``fine_tune_step`` runs it eagerly). ``loop`` is
``fine_tune``: its arguments become one checked ``config.RunConfig``, and
``epochs.Run`` runs the step compiled (``compiled``) for several epochs, over
``batches``, with ``features`` (cached features), ``distribute`` (``tf.distribute``)
and the ``checkpoint.BackupAndResume`` callback (checkpoints, also for ``fit``).
"""
