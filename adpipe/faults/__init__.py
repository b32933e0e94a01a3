"""``python model.py faults``: a bounded, loopback-only fault drill of the prediction service and the pipeline's
commands (issue 38). Each case injects one fault under a steady load from :mod:`adpipe.faults.load`, measures from
the client's side what failed, what was wrong for the version it named, what was lost and how long recovery took,
while a real Prometheus (:mod:`adpipe.faults.prometheus`) scrapes the service and evaluates ``deploy/alerts.yml``.
An app: it hosts the service and the tasks' commands, nothing imports it. docs/deploy.md, Faults, has the table.
"""
