"""The reports to land, named in a configuration file (``ST_REPORTS_FILE``, YAML or JSON):

```yaml
reports:
  - name: revenue_by_business_unit   # the asset servicetitan/reports/<name>, raw.report_<name>
    category: accounting             # the report category's id
    report_id: 201                   # the report's id within it
    parameters:                      # name: value, as the report's description names them
      From: today-30d                # relative dates are resolved when the report runs
      To: today
```

A relative date is ``today`` or ``yesterday``, optionally ``+`` or ``-`` a number of
days (``d``) or weeks (``w``): ``today-30d``, ``today-1w``. What the file alone can tell
(its syntax, names, ids, relative dates) is checked when it is read, the code location
load; what only the tenant knows (the category, the report, its parameters and their
types) when the report runs. Every error names the file and the report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML, a dependency of dagster
from pydantic import BaseModel, ConfigDict, Field, ValidationError

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
RELATIVE = re.compile(r"^(today|yesterday)(?:\s*([+-])\s*(\d{1,5})\s*([dw]))?$")
Value = str | bool | int | float | None


class ReportConfigError(ValueError):
    """The reports file, or one report of it, is wrong: the message says where and why."""


class ReportSpec(BaseModel):
    """One report to land: its name, where it is on the tenant and its parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="asset servicetitan/reports/<name> and view raw.report_<name>")
    category: str = Field(min_length=1)
    report_id: int = Field(ge=1)
    parameters: dict[str, Value] = Field(default_factory=dict)
    source: str = Field(default="", description="the file it was read from")

    @property
    def view(self) -> str:
        """Its landing folder and ``raw`` view: ``report_<name>``."""
        return f"report_{self.name}"

    def where(self) -> str:
        """``<file>: report '<name>' (category <c>, report <id>)``, for messages."""
        return (
            f"{self.source}: report {self.name!r} "
            f"(category {self.category!r}, report {self.report_id})"
        )

    def resolved(self, today: date) -> dict[str, Value]:
        """The parameters with relative dates resolved against ``today``."""
        return {k: resolve(v, today) for k, v in self.parameters.items()}

    def summary(self) -> str:
        """The parameters as configured, e.g. ``From=today-30d, To=today``."""
        return ", ".join(f"{k}={v}" for k, v in self.parameters.items()) or "no parameters"


def resolve(value: Value, today: date) -> Value:
    """A relative date (``today-30d``) as ``YYYY-MM-DD``; any other value as it is."""
    if not isinstance(value, str):
        return value
    match = RELATIVE.match(value.strip().lower())
    if match is None:
        return value
    base, sign, amount, unit = match.groups()
    day = today - timedelta(days=1) if base == "yesterday" else today
    if sign:
        days = int(amount) * (7 if unit == "w" else 1)
        day = day + timedelta(days=days if sign == "+" else -days)
    return day.isoformat()


def _looks_relative(value: Value) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(("today", "yesterday"))


def load_report_specs(path: str | Path) -> list[ReportSpec]:
    """The reports of the file at ``path``; a ``ReportConfigError`` naming the file (and
    the report) when it cannot be read or a report is wrong."""
    file = Path(path).expanduser()
    try:
        text = file.read_text()
    except OSError as exc:
        raise ReportConfigError(
            f"{file}: cannot read the reports file (ST_REPORTS_FILE): {exc}"
        ) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ReportConfigError(f"{file}: not valid YAML or JSON: {exc}") from None
    return parse_report_specs(document, str(file))


def parse_report_specs(document: Any, source: str) -> list[ReportSpec]:
    """The reports of a parsed file (``{reports: [...]}`` or the list itself)."""
    items = document.get("reports") if isinstance(document, Mapping) else document
    if not isinstance(items, list):
        raise ReportConfigError(
            f"{source}: expected a list of reports under 'reports:' "
            "(each with name, category, report_id and parameters)"
        )
    specs: list[ReportSpec] = []
    seen: set[str] = set()
    for index, item in enumerate(items, 1):
        label = f"#{index}"
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            label = repr(item["name"])
        where = f"{source}: report {label}"
        if not isinstance(item, Mapping):
            raise ReportConfigError(f"{where}: expected a mapping, not {item!r}")
        try:
            spec = ReportSpec.model_validate({**item, "source": source})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ReportConfigError(f"{where}: {problems}") from None
        if not NAME.match(spec.name):
            raise ReportConfigError(
                f"{where}: the name must be lower-case letters, digits and _ "
                "(it names the asset and the raw view)"
            )
        if spec.name in seen:
            raise ReportConfigError(f"{where}: another report of the file has that name")
        seen.add(spec.name)
        for name, value in spec.parameters.items():
            if _looks_relative(value) and not RELATIVE.match(str(value).strip().lower()):
                raise ReportConfigError(
                    f"{where}: parameter {name}: {value!r} is not a relative date "
                    "(today or yesterday, optionally +/- N d or w, e.g. today-30d)"
                )
        specs.append(spec)
    return specs
