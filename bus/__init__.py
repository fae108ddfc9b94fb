"""The ZeroMQ bus: envelope, topics, hub, request/reply, heartbeats, snapshots.

Knows nothing of IB or ats.
"""
