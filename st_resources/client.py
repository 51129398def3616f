"""The name of the session backend before the backends were split.

``st_sandbox/demo.py`` still imports it (``st-demo``'s first smoke test); new code uses
``st_resources.session.SessionBackend``. Delete this module once the demo does.
"""

from st_resources.session import SessionBackend as ServiceTitanClient

__all__ = ["ServiceTitanClient"]
