"""The one tuning loop: an Optuna study over a task's search space, scored by the validation protocol.

A task (``TuningTask``) says what to sample and how to cross-validate one sample; this package does
the rest for every task alike: it opens (or resumes) a study in any SQLAlchemy storage (SQLite for one
machine, PostgreSQL for workers on several), refuses a study made for another task, metric or protocol,
reports each fold's running mean so a pruner can stop hopeless trials, shows a progress bar, keeps
every finished trial on Ctrl-C, and at the end writes the best parameters to the task's params file,
once and atomically, with the study, the trial and its score (mean ± std over the folds).

- ``study``: what a task provides (:class:`~adpipe.tuning.study.TuningTask`), opening and checking a study;
- ``loop``: :func:`~adpipe.tuning.loop.run_tuning`, with its progress bar, Ctrl-C and the params file;
- ``command``: :func:`~adpipe.tuning.command.tune_command`, the ``tune`` command every task shares (it
  imports Optuna only when it runs, so the CLI's help stays fast).
"""
