"""Reports, dashboards and monitors declared in YAML: loading and checking them, and
computing them in the database (never by loading records into Python).

    catalog = catalog_of(ficha)                       # checked once, at load
    result = run_report(ficha, who, catalog.reports["calls_per_hour"], {"from": "…"})
"""

from __future__ import annotations

from framework.reports.access import ReportRefused, check_report, run_report, user_of
from framework.reports.catalog import Catalog, catalog_of, load_catalog
from framework.reports.params import BadParameter

__all__ = [
    "BadParameter",
    "Catalog",
    "ReportRefused",
    "catalog_of",
    "check_report",
    "load_catalog",
    "run_report",
    "user_of",
]
