"""Stack output names, shared by the program, its tests and the client."""

SCORING_URI = "scoringUri"
SWAGGER_URI = "swaggerUri"
SCORING_KEY = "scoringKey"
WORKSPACE = "workspaceName"
RESOURCE_GROUP = "resourceGroupName"
TARGET = "target"
# The release the repository declares: {"model", "code", "environment"} version strings.
RELEASE = "release"

ALL = (SCORING_URI, SWAGGER_URI, SCORING_KEY, WORKSPACE, RESOURCE_GROUP, TARGET, RELEASE)
