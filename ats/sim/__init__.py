"""TWS API gateway simulator: a venue that unmodified IB clients trade against."""

SERVER_VERSION = 176
