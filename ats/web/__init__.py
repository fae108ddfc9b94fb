"""ats-web: the operator's console in a browser, live from the bus.

- ``live``: Clone replicas and bus events, fanned out to browsers over Server-Sent Events;
- ``backend``: every control, as the same manager and broker ROUTER requests ats-ctl makes;
- ``auth``: read-only without login; a session cookie and a CSRF token for every change;
- ``audit``: every action, one JSON line each; ``logintoken``: the login token's file;
- ``api`` (JSON under /api/), ``app`` (pages, login, the event stream), ``main`` (the process).

``logintoken`` and ``audit`` use only the standard library: ats-ctl imports them.
"""
