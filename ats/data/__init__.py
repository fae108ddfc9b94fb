"""Market data plumbing: stored bars in ArcticDB, paced IB downloads, CSV import."""

from ats.data.manager import DataManager
from ats.data.naming import parse_symbol, storage_name
from ats.data.pacing import HistoricalPacer, HistRequest
from ats.data.store import BarStore

__all__ = ["BarStore", "DataManager", "HistRequest", "HistoricalPacer", "parse_symbol",
           "storage_name"]
