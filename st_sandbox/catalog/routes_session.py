"""The session API's routes of every non-core catalog stream (docs/api.md, "Catalog
streams"): ``GET {session_path}`` with the signed cursor of the core reads
(``pageSize``, ``cursor``, ``modifiedOnOrAfter``/``modifiedBefore``, ``ids``, ``active``)
and, for streams keyed by an int ``id``, ``GET {session_path}/{id}``. They are the core
routes' handlers (``routes/reads.py``) over the catalog stream's table, so both surfaces
serve the same records.

Every list route is added before any one-record route: ``/crm/contacts/contact-methods``
must not be taken for the record ``contact-methods`` of ``/crm/contacts``. The app
includes this router before the core reads for the same reason
(``/pricebook/materials/costtypes`` next to ``/pricebook/materials/{id}``).
"""

from __future__ import annotations

from fastapi import APIRouter

from st_sandbox.catalog.streams import SERVED, layout
from st_sandbox.routes.reads import get_route, list_route

router = APIRouter(tags=["catalog reads"])

for _stream in SERVED:
    _label = _stream.name.replace("_", " ")
    router.get(_stream.session_path, summary=f"List {_label}")(list_route(_stream.name))
for _stream in SERVED:
    if layout(_stream.name).int_id:
        _label = _stream.name.replace("_", " ")
        router.get(f"{_stream.session_path}/{{record_id}}", summary=f"Get one of {_label}")(
            get_route(_stream.name)
        )
