"""The contract: what a ServiceTitan tenant serves, independent of how it is reached.

The entity catalog (``entities``), the typed records (``models``) and where each entity
lives on the official v2 API (``v2_paths``). The product (``st_resources``,
``st_assets``) and the tools (``st_sandbox``, ``benchmarks``) import it; it imports
neither.
"""
