"""The main task: LightGBM for ClickStream ``marketing_target`` (1/2/3) under macro-F1.

- ``params``: what the params file (``params/clickstream.json``, written by ``make tune``) may hold;
- ``estimators``: the model it describes (feature groups, imbalance handling, LightGBM, decision rule);
- ``decision_rule``: the macro-F1 class-weight rule, fitted inside the training data;
- ``pipeline``: train on the labelled users, write the submission;
- ``evaluation`` and ``report``: repeated stratified K-fold against a baseline, as a typed report;
- ``tuning``: the Optuna search space; ``cli``: the commands.
"""
