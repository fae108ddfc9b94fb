"""The manager process: strategy registry, supervisord control, health, control service."""
