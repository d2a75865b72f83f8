"""Spreadsheet imports: mappings (YAML, checked against the model), streamed CSV and
XLSX readers, and the importer that writes through the records service's batch path."""

from framework.importing.engine import Importer, ImportReport, RowError
from framework.importing.mapping import ImportMapping, load_mapping, mapping_from_dict
from framework.importing.sources import SourceError, open_sheet

__all__ = [
    "ImportMapping",
    "ImportReport",
    "Importer",
    "RowError",
    "SourceError",
    "load_mapping",
    "mapping_from_dict",
    "open_sheet",
]
