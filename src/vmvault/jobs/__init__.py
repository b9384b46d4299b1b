"""The job machinery (DESIGN.md §2, §4): what runs a queued job and keeps it alive.

- ``context``: a running job as its work sees it (sub-tasks, progress, results, the one
  checkpoint that raises ``JobCancelled``/``JobLost``);
- ``lease``: the job's own heartbeat thread, which renews its lease whatever the work does;
- ``engine``: ``run_claimed``, the one way every job kind ends (Completed, Cancelled, Failed),
  written only while the worker still holds the job;
- ``worker`` and ``scheduler``: the loops of ``vmvault worker`` and ``vmvault serve``, which the
  API and separate worker processes reuse;
- ``tasks``: a job's sub-tasks with Azure's statuses.

Services register one runner per operation (``services.jobs.JobService.register``); the loops
only call services, never the catalog's rows behind them.
"""
