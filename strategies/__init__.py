"""Pre-built strategies. Each module holds a Params class and a Strategy subclass."""
