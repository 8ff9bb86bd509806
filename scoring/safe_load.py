"""The fitted preprocessing pipeline, loaded without running code from the file.

The service never unpickles: it reads the pipeline from skops' format (a zip of a JSON schema and
.npy arrays, https://skops.readthedocs.io/en/stable/persistence.html), and only after checking
that every type the schema names is one of ALLOWED, the exact types the fitted pipeline holds.
skops trusts every scikit-learn estimator by default (FunctionTransformer included), so the list
here is the gate; skops' own audit, given the same list, is the second one (it also refuses
references to functions and methods).
"""

import io
import json
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import skops.io

FILE = "pipeline_processing.skops"
SCHEMA = "schema.json"

# Every type named in the schema of the fitted pipeline (`python -m scoring.safe_load FILE`
# prints them). Training refuses to write a pipeline holding another type: review it, then add it.
ALLOWED = (
    "builtins.dict",
    "builtins.list",
    "builtins.slice",
    "builtins.str",
    "builtins.tuple",
    "numpy.float64",
    "numpy.ndarray",  # read by numpy with allow_pickle=False
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._encoders.OneHotEncoder",
)

# Fixed zip entry times: skops stamps each entry with the time of writing.
EPOCH = (1980, 1, 1, 0, 0, 0)


def _nodes(schema):
    """Every object of the schema, depth first, in file order (no recursion: files can be deep)."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            stack.extend(reversed(node))


def types_in(data: bytes) -> set[str]:
    """The module.Class of every node of a skops file, read as JSON: nothing is imported."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        schema = json.loads(archive.read(SCHEMA))
    return {
        f"{node.get('__module__')}.{node.get('__class__')}"
        for node in _nodes(schema)
        if "__module__" in node or "__class__" in node
    }


def outside(data: bytes) -> list[str]:
    return sorted(types_in(data) - set(ALLOWED))


def load(artifacts: dict[str, bytes], refuse: Callable[[str], Exception]):
    """The pipeline from the hash-verified artifacts; refuse(reason) is raised for anything else."""
    data = artifacts.get(FILE)
    if data is None:
        raise refuse(f"the manifest lists no {FILE}, the only form of the pipeline loaded")
    try:
        unknown = outside(data)
    except (zipfile.BadZipFile, KeyError, ValueError, RecursionError) as ex:
        raise refuse(f"{FILE} is not a skops file: {ex}") from None
    if unknown:
        raise refuse(f"{FILE} holds types outside the allow-list: {', '.join(unknown)}")
    try:
        return skops.io.loads(data, trusted=list(ALLOWED))
    except Exception as ex:  # noqa: BLE001 - skops' audit, or a schema not matching its objects
        raise refuse(f"cannot load {FILE}: {type(ex).__name__}: {ex}") from None


def dumps(pipeline) -> bytes:
    """skops' format, the same bytes for the same pipeline, holding only ALLOWED types.

    skops names objects and array files after id() and stamps entries with the time; both are
    renumbered and fixed here, so that training stays byte-for-byte reproducible.
    """
    with zipfile.ZipFile(io.BytesIO(skops.io.dumps(pipeline))) as archive:
        schema = json.loads(archive.read(SCHEMA))
        members = {name: archive.read(name) for name in archive.namelist() if name != SCHEMA}
    ids: dict[int, int] = {}
    files: dict[str, str] = {}
    for node in _nodes(schema):
        if "__id__" in node:  # 0 would read as "no id"
            node["__id__"] = ids.setdefault(node["__id__"], len(ids) + 1)
        if node.get("file") in members:
            name = node["file"]
            node["file"] = files.setdefault(name, f"{len(files)}{PurePosixPath(name).suffix}")
    if set(files) != set(members):
        raise ValueError(f"skops wrote files its schema does not name: {set(members) - set(files)}")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        entries = [(SCHEMA, json.dumps(schema, indent=2).encode())]
        entries += [(new, members[old]) for old, new in files.items()]
        for name, content in entries:
            archive.writestr(zipfile.ZipInfo(name, EPOCH), content)
    data = out.getvalue()
    unknown = outside(data)
    if unknown:
        raise ValueError(
            f"the pipeline holds types the service refuses: {', '.join(unknown)}; review them "
            f"and add them to ALLOWED in {__name__}"
        )
    return data


if __name__ == "__main__":  # pragma: no cover
    for name in sorted(types_in(Path(sys.argv[1]).read_bytes())):
        print(name)
