"""Automated trading system for Interactive Brokers: processes, storage, venue adapters."""
