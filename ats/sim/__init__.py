"""TWS API gateway simulator: a venue that unmodified IB clients trade against."""

from ats.sim.versions import MAX_VERSION as SERVER_VERSION

__all__ = ["SERVER_VERSION"]
