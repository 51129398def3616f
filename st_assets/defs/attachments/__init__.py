"""Job attachments: their blobs downloaded content-addressed into the landing folder,
and a manifest exposed as ``raw.attachments_manifest`` (``assets.py``)."""
