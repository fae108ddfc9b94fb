"""The pre-live check of `ats-ctl doctor`: what would fail against this venue before it does."""
