"""The order contract: what a strategy host and a broker desk both speak, and neither owns.

- `ref`: the orderRef format, ``ats:<strategy>:<intent_id>``;
- `intent`: the order intent a desk approves and journals;
- `fills`: the execution and commission report the venue sends, and execId corrections;
- `contract`: the versioned messages between host and desk (approval request, decision,
  book reply) with their encode/decode pair;
- `events`: what desk and host publish on the bus, versioned the same way (the fill event,
  a trade or a transfer's leg, and the order update).

Nothing here imports the broker, the host, IB or the bus.
"""
