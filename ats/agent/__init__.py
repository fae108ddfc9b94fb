"""ats-agent: the manager's hand on a joined host's supervisord, reached over the bus."""
