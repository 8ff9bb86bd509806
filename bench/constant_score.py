"""An entry script that answers every request with the same text and does no work: what the
inference server itself reaches, the ceiling an entry script's throughput is measured against."""

from azureml_inference_server_http.api.aml_request import rawhttp

ANSWER = "[[0.9,0.1]]"


def init():
    pass


@rawhttp
def run(request):
    return ANSWER
