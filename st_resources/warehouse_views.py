"""The warehouse's DuckDB side: the ``raw.<stream>`` views over the landing (a typed empty
table for a stream not landed yet), the views of other landed folders (the custom
reports), and in-memory connections for the checks. A mixin of ``WarehouseResource``,
which owns the landing's files."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
from filelock import FileLock

from st_contract.entities import SPECS_BY_NAME, STREAM_SPECS, EntitySpec
from st_resources.arrow import arrow_schema

PARTITION_KEY = "modified_date"
"""The column holding a partitioned row's partition day."""


@contextmanager
def warehouse_write_lock(warehouse_dir: str | Path, timeout: float = 600) -> Iterator[None]:
    """Hold the lock every writer of ``warehouse.duckdb`` takes (views, dbt)."""
    path = Path(warehouse_dir)
    path.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path / ".warehouse.lock"), timeout=timeout):
        yield


class WarehouseViews:
    """``raw`` views and read connections over ``root`` (``landing(entity)`` per stream)."""

    @property
    def root(self) -> Path:
        raise NotImplementedError

    @property
    def database_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    def landing(self, entity: str) -> Path:
        """The landing folder of an entity."""
        return self.root / "landing" / entity

    def glob(self, entity: str) -> str:
        return str(self.landing(entity) / "*.parquet")

    def _read_parquet(self, entity: str) -> str:
        # By name: a month written before a release added a field lacks its column (it reads
        # as null). With a file per month, binding reads a few dozen footers at most.
        return f"read_parquet('{self.glob(entity)}', union_by_name = true)"

    def _landed(self, entity: str) -> bool:
        return any(self.landing(entity).glob("*.parquet"))

    def ensure_views(self, specs: tuple[EntitySpec, ...] = STREAM_SPECS) -> list[str]:
        """Create or refresh the ``raw.<entity>`` views of every landed stream of
        ``specs``; a stream not landed yet gets an empty table of its landing schema, so
        the models over it build (empty) until it lands.

        A view is bound to the schemas of the files when it is created: a write that brings
        a new schema must be followed by this call (the assets do it after every write)."""
        created = []
        with warehouse_write_lock(self.root), duckdb.connect(str(self.database_path)) as con:
            con.execute("CREATE SCHEMA IF NOT EXISTS raw")
            existing = dict(
                con.execute(
                    "SELECT table_name, table_type FROM information_schema.tables "
                    "WHERE table_schema = 'raw'"
                ).fetchall()
            )
            for spec in specs:
                if not self._landed(spec.name):
                    if spec.name not in existing:
                        self._empty(con, spec)
                    continue
                if existing.get(spec.name) == "BASE TABLE":
                    con.execute(f"DROP TABLE raw.{spec.name}")
                con.execute(
                    f"CREATE OR REPLACE VIEW raw.{spec.name} AS SELECT * FROM "
                    f"{self._read_parquet(spec.name)}"
                )
                created.append(spec.name)
        return created

    @staticmethod
    def _empty(con: duckdb.DuckDBPyConnection, spec: EntitySpec) -> None:
        empty = arrow_schema(spec.model).empty_table()
        if spec.partitioned:
            empty = empty.append_column(PARTITION_KEY, pa.array([], pa.date32()))
        con.register("empty_landing", empty)
        con.execute(f"CREATE TABLE raw.{spec.name} AS SELECT * FROM empty_landing")
        con.unregister("empty_landing")

    def ensure_landed_views(self, *names: str) -> list[str]:
        """Create or refresh ``raw.<name>`` over ``landing/<name>/`` for each landed
        ``name`` that is not a catalog entity (the custom reports: ``report_<name>``)."""
        created = []
        with warehouse_write_lock(self.root), duckdb.connect(str(self.database_path)) as con:
            con.execute("CREATE SCHEMA IF NOT EXISTS raw")
            for name in names:
                if not name.isidentifier() or not self._landed(name):
                    continue
                con.execute(
                    f"CREATE OR REPLACE VIEW raw.{name} AS SELECT * FROM {self._read_parquet(name)}"
                )
                created.append(name)
        return created

    def landing_connection(self, *entities: str) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with one view per landed entity of ``entities``
        (every entity if none is named); it never locks the warehouse."""
        con = duckdb.connect()
        for spec in [SPECS_BY_NAME[e] for e in entities] if entities else STREAM_SPECS:
            if self._landed(spec.name):
                con.execute(
                    f"CREATE VIEW {spec.name} AS SELECT * FROM {self._read_parquet(spec.name)}"
                )
        return con
