"""The serving kit: what a task implements to be served, below the tasks and the service app that hosts them.

- ``adapter``: what every served task shares, the answer's types and a task over one CSV table (each task's
  own adapter — record, predictions, validation figure — is its package's ``service`` module);
- ``records``: request models derived from the loaders' schemas; records and uploads read by those loaders
  from memory;
- ``profiles``: the two profile tasks' loader; ``explain``: the inputs that pushed one prediction most;
- ``coalesce``: concurrent requests' records predicted in one call; ``window``: a worker's window of served
  answers, which the drift report and ``/monitor`` read.
"""
