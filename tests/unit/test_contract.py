"""The committed API documents match the code (run `newsflow schemas` after a change)."""

from __future__ import annotations

import json

from shared.contract import asyncapi_document, json_schemas
from tests.conftest import REPO

API = REPO / "docs" / "api"


def test_json_schemas_are_committed_and_current() -> None:
    for name, schema in json_schemas().items():
        committed = json.loads((API / name).read_text())
        assert committed == schema, f"docs/api/{name} is stale: run `newsflow schemas`"


def test_asyncapi_document_is_committed_and_current() -> None:
    document = asyncapi_document()
    committed = json.loads((API / "asyncapi.json").read_text())
    assert committed == document, "docs/api/asyncapi.json is stale: run `newsflow schemas`"
    assert document["asyncapi"].startswith("3.")
    assert {"newsflow:articles", "newsflow:enriched", "newsflow:dead"} <= set(document["channels"])


def test_public_input_schema_takes_text_or_html_and_nothing_unknown() -> None:
    schema = json_schemas()["article-in.schema.json"]
    assert "required" not in schema  # text or html: checked by the model, said in the docs
    assert {"text", "html", "id", "url", "published_at"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False
