"""Stack output names, shared by the program, its tests and the client."""

SCORING_URI = "scoringUri"
SWAGGER_URI = "swaggerUri"
SCORING_KEY = "scoringKey"
WORKSPACE = "workspaceName"
RESOURCE_GROUP = "resourceGroupName"
TARGET = "target"
# The release the repository declares: {"model", "code", "environment"} version strings.
RELEASE = "release"
# Where the scored rows are captured (infra/capture.py): {"account", "share"} on dev,
# {"account", "container", "prefix"} on prod; `make drift --stack` reads it.
CAPTURES = "captures"

ALL = (SCORING_URI, SWAGGER_URI, SCORING_KEY, WORKSPACE, RESOURCE_GROUP, TARGET, RELEASE, CAPTURES)
