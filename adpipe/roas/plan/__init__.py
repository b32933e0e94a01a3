"""Where the next dollar should go: the ROAS task's budget plan (``roas curves``, ``roas plan``,
``roas plan-validate``; docs/roas.md, "Budget plan").

- ``curves``: the pooled value-vs-spend curves per segment (a scikit-learn regressor) and each segment's response;
- ``solver``: the user's limits and the budget split that maximises the expected value on the curves;
- ``backtest``: the curves and the plan on held-out campaigns (and forward in time), the targets;
- ``planner``: the ads read, the curves fitted once and the plan on them (the command and the service share it);
- ``options``: the typed values of the commands' options (what they read, what a plan is asked for);
- ``commands``: what each command computes and writes; ``cli``: the commands themselves;
- ``report``: the typed reports (their field names are the JSON keys);
- ``views`` (the terminal) and ``dashboard`` (the ROAS section's plan panels): the reports shown.

Light: ``model.py roas --help`` imports ``cli`` and ``options`` only.
"""
