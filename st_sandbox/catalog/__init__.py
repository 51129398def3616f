"""The non-core catalog streams in the sandbox (``st_contract.catalog``: 115 streams over
24 modules besides the 20 core entities): their generated records (``generate.py``,
``fill.py``, ``refs.py``), their table layout (``streams.py``) and their routes on the
session API (``routes_session.py``) and the official v2 surface (``routes_v2.py``), over
the same tenant state as the core entities."""
