"""ats-alerts: alerts that leave the machine.

The process subscribes to the bus, turns what it sees into alerts with a severity
(``rules``), folds repeats and holds back bursts (``fold``), keeps every alert in a JSON-lines
file and a durable outbox (``store``) and delivers them through Apprise, retrying with backoff
(``delivery``). It runs beside the broker and the hosts, never inside them: a slow or failing
notification service cannot hold up trading.
"""
