"""ArcticDB access: one Arctic per process and URI, opened after any fork."""
