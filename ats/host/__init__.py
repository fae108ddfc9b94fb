"""The strategy host: runs one strategy as its own OS process with its own IB clientId."""
