"""The Swagger 2.0 description that azmlinfsrv serves at GET /swagger.json (swagger2.json).

It names no scheme, so it is true for every target (see `swagger()`). Written from the entry
script's contract and the fitted artifacts, so it cannot drift:
`make swagger` regenerates it, a test compares the committed file with a fresh one.

    python -m scoring.swagger [MODEL_DIR] > scoring/swagger2.json
"""

import json
import sys

from scoring.score import (
    BODY_TIMEOUT_S,
    MAX_BODY_BYTES,
    MAX_ROWS,
    SAMPLE_ROW,
    Column,
    Scorer,
    load,
)


def swagger(scorer: Scorer, manifest: dict) -> dict:
    """Swagger 2.0 for the service, with the sample customer as example."""
    row_object = {
        "type": "object",
        "required": [c.name for c in scorer.columns],
        "additionalProperties": False,
        "properties": {c.name: column_schema(c) for c in scorer.columns},
    }
    names = ", ".join(c.name for c in scorer.columns)
    example_output = scorer.score(json.dumps({"data": [SAMPLE_ROW]}).encode())
    error_ref = {"$ref": "#/definitions/ErrorResponse"}
    responses = {
        "200": {
            "description": "JSON text of [[p_stay, p_leave], ...], one pair per row",
            "schema": {"$ref": "#/definitions/ServiceOutput"},
        },
        "400": {
            "description": "invalid JSON or values; `errors` names row, column and expectation",
            "schema": error_ref,
        },
        "401": {"description": "missing or wrong key", "schema": error_ref},
        "413": {
            "description": f"more than {MAX_BODY_BYTES} bytes or {MAX_ROWS} rows",
            "schema": error_ref,
        },
        "405": {"description": "a method other than POST", "schema": error_ref},
        "408": {
            "description": f"the body did not arrive within {BODY_TIMEOUT_S} s",
            "schema": error_ref,
        },
        "415": {
            "description": "Content-Type is neither application/json nor application/*+json",
            "schema": error_ref,
        },
    }
    return {
        "swagger": "2.0",
        "info": {
            "title": "churn-scoring",
            "description": "Probability that a bank customer stays or leaves, per row.",
            "version": f"{manifest['name']} {manifest['version']}",
        },
        # No "schemes": Swagger 2.0 then means the scheme this file was fetched with, which is
        # the one each target serves (plain http locally, https on ACI's TLS sidecar and on the
        # AKS router), so one file is right for every target.
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {
            "Bearer": {
                "type": "apiKey",
                "name": "Authorization",
                "in": "header",
                "description": "Bearer <key>",
            }
        },
        "paths": {
            "/": {
                "get": {
                    "operationId": "ServiceHealthCheck",
                    "description": "Liveness",
                    "responses": {"200": {"description": "Healthy"}},
                }
            },
            "/score": {
                "post": {
                    "operationId": "RunMLService",
                    "description": "Score customers",
                    "security": [{"Bearer": []}],
                    "parameters": [
                        {
                            "name": "body",
                            "in": "body",
                            "required": True,
                            "schema": {"$ref": "#/definitions/ServiceInput"},
                        }
                    ],
                    "responses": responses,
                }
            },
        },
        "definitions": {
            "ServiceInput": {
                "type": "object",
                "required": ["data"],
                "additionalProperties": False,
                "properties": {
                    "data": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_ROWS,
                        "description": f"rows: lists of the values {names}, or CustomerRow objects",
                        # Swagger 2.0 has no oneOf: a row without a type admits both forms.
                        "items": {
                            "description": f"a list of the {len(scorer.columns)} values in "
                            "order, or a CustomerRow object",
                        },
                    }
                },
                "example": {"data": [SAMPLE_ROW]},
            },
            "CustomerRow": row_object,
            "ServiceOutput": {"type": "string", "example": example_output},
            "ErrorResponse": {
                "type": "object",
                "properties": {
                    "message": {"type": "string"},
                    "errors": {"type": "array", "items": {"$ref": "#/definitions/Error"}},
                    "error_count": {"type": "integer"},
                },
            },
            "Error": {
                "type": "object",
                "properties": {
                    "row": {"type": "integer", "x-nullable": True},
                    "column": {"type": "string", "x-nullable": True},
                    "expected": {"type": "string"},
                    "got": {"type": "string"},
                },
            },
        },
    }


def column_schema(column: Column) -> dict:
    if column.kind == "category":
        return {"type": "string", "enum": list(column.categories)}
    return {"type": column.kind, "minimum": column.low, "maximum": column.high}


if __name__ == "__main__":
    scorer, manifest = load(sys.argv[1] if len(sys.argv) > 1 else "model_artifacts")
    print(json.dumps(swagger(scorer, manifest), indent=2))
