"""Resource and health figures of every process: sampling, histograms, alert rules, and the
publisher that puts them on the bus (``stats.<process>``)."""
