"""ats-ctl: the operator's command line. One module per command family."""
