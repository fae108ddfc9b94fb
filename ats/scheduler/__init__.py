"""Scheduled data jobs: `ats-ctl data schedule` stores them, `ats-scheduler` runs them.

- ``timing``: when a job runs next (after the exchange's close, or a CRON expression), from the
  XNYS calendar; pure.
- ``jobs``: the job definitions (``state/scheduler/jobs.json``, written by ats-ctl) and their
  run records (``state/scheduler/runs.json``, written by the scheduler only).
- ``engine``: which job is due, retries with backoff, alerts; the clock is injected.
- ``runners``: what a job does: the paced, resumable fetch, or a user's Python function.
- ``main``: the ats-scheduler process under supervisord.
"""
