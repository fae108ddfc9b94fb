"""The IB venue adapter. ats/ib/adapter.py is the only module that imports the IB client."""
