"""Command-line apps over the task list that belong to no one task: ``model.py tasks`` (:mod:`.tasks`: list the
tasks, run what makes their outputs), ``model.py models`` (:mod:`.versions`: the kept model versions) and
``model.py explore`` (:mod:`.explore`: the offline Explore page)."""
