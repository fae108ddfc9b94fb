"""The broker's trading core: ledger, risk, intent log, trading states, reconciliation.

Pure logic plus its persistence. Nothing here imports zmq, ib_async or bus; the broker
process (main/service) wires these pieces to the wire and to IB.
"""
