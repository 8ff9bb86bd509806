"""AzureML's inference server exactly as the images run it, bound to one address instead of every
interface: `python -m load.loopback HOST AZMLINFSRV-ARGS...`. The server has no option for it
(`amlserver.DEFAULT_HOST` is 0.0.0.0); `make serve` and the test and benchmark servers use this."""

import sys

from azureml_inference_server_http import amlserver

amlserver.DEFAULT_HOST = sys.argv.pop(1)
amlserver.run()
