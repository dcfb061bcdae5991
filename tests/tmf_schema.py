"""Validate JSON against a definition of an official TMF spec, copied into ``tests/tmf/`` (see SOURCES.md there).

The Swagger 2.0 files are used as they are: the definition is referenced inside a schema that carries
every definition of the file, so ``$ref: #/definitions/X`` resolves.
"""
import json
from functools import lru_cache
from pathlib import Path

import jsonschema

SPEC_DIR = Path(__file__).resolve().parent / "tmf"
TMF622 = "TMF622-ProductOrdering-v4.0.0.swagger.json"
TMF620 = "TMF620-ProductCatalog-v4.0.0.swagger.json"
TMF637 = "TMF637-ProductInventory-v4.0.0.swagger.json"
TMF641 = "TMF641-ServiceOrdering-v4.0.0.swagger.json"
TMF641_V41 = "TMF641-ServiceOrdering-v4.1.0.swagger.json"


@lru_cache
def _definitions(spec_file: str) -> dict:
    with open(SPEC_DIR / spec_file) as handle:
        return json.load(handle)["definitions"]


def definitions(spec_file: str) -> dict:
    """Every definition of an official spec file (e.g. its state enums)."""
    return _definitions(spec_file)


def assert_valid(spec_file: str, definition: str, instance) -> None:
    schema = {"definitions": _definitions(spec_file), "$ref": f"#/definitions/{definition}"}
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:20])
