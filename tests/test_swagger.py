"""GET /swagger.json declares no scheme of its own: each target's is the one it is fetched with."""

from urllib.parse import urlparse

import pytest

from infra import outputs
from infra.testing import run_program
from scoring import swagger
from tests.localserver import MODEL_DIR


def test_the_description_leaves_the_scheme_to_the_url_it_was_fetched_from():
    # Swagger 2.0: "If the schemes is not included, the default scheme to be used is the one
    # used to access the Swagger definition itself."
    scorer, manifest = swagger.load(str(MODEL_DIR))
    assert "schemes" not in swagger.swagger(scorer, manifest)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_stack_serves_its_swagger_with_the_scheme_of_its_scoring_uri(stack):
    program = run_program(stack)
    scoring = urlparse(program.outputs[outputs.SCORING_URI].value)
    described = urlparse(program.outputs[outputs.SWAGGER_URI].value)
    assert (described.scheme, described.netloc) == (scoring.scheme, scoring.netloc)
    if stack == "dev":
        assert scoring.scheme == "https"  # through the TLS sidecar (docs/tls.md)
