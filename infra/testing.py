"""Runs the real program offline, under Pulumi's mocks, and returns what it declares.

    from infra.testing import run_program

    program = run_program("prod", overrides={"replicasMax": 6})
    for r in program.resources:
        print(r.type, r.name, r.parent_type, r.inputs, r.secret_paths)

`run_program(stack)` reads `Pulumi.yaml` (its declared defaults, applied as the Pulumi CLI does)
and `Pulumi.<stack>.yaml`, applies `overrides` (keys without the project prefix), runs
`__main__.py` from `root` with `pulumi.runtime.set_mocks` and returns a `Program`: every declared
resource with its type, logical name, parent, inputs (secrets unwrapped, their paths listed in
`secret_paths`), the outputs the mocks gave it, `protect`, `ignore_changes` and dependencies;
and the stack outputs with their secret-ness. The mocks add only what Azure would compute (ids, names, URIs, keys). It
runs as a preview by default, as `pulumi preview` would: the image build and the registry token
exchange are skipped. The same function feeds `make plan`, the plan snapshots and the tests, and
any check over the resources a stack declares (such as a policy pack) can import it.
"""

import hashlib
import json
import os
import re
import runpy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

ROOT = Path(__file__).resolve().parent.parent
SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
TENANT = "00000000-0000-0000-0000-000000000002"
SECRET = "[secret]"


@dataclass
class DeclaredResource:
    type: str
    name: str
    urn: str
    id: str  # what the mocks answered, shaped like an ARM id
    parent: str  # the parent's URN ("" for the stack itself)
    parent_type: str
    custom: bool
    inputs: dict[str, Any]
    secret_paths: set[str]  # dotted input paths whose value is secret, e.g. "containers[0]..."
    outputs: dict[str, Any]
    protect: bool
    dependencies: list[str]
    ignore_changes: list[str] = field(default_factory=list)

    def get(self, path: str) -> Any:
        """An input by dotted path: `get("properties.authMode")`, `get("containers.0.image")`."""
        value: Any = self.inputs
        for part in path.split("."):
            value = value[int(part)] if isinstance(value, list) else value.get(part)
            if value is None:
                return None
        return value

    def is_secret(self, path: str) -> bool:
        return any(p == path or p.startswith(path + ".") or path.startswith(p + ".")
                   for p in self.secret_paths)  # fmt: skip


@dataclass
class StackOutput:
    value: Any
    secret: bool


@dataclass
class Program:
    stack: str
    config: dict[str, str]
    resources: list[DeclaredResource] = field(default_factory=list)
    outputs: dict[str, StackOutput] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[DeclaredResource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> DeclaredResource:
        found = self.of_type(type_)
        assert len(found) == 1, f"expected one {type_}, found {len(found)}"
        return found[0]

    def by_urn(self, urn: str) -> DeclaredResource | None:
        return next((r for r in self.resources if r.urn == urn), None)


# -- configuration ----------------------------------------------------------------------------
def stack_config(
    stack: str, overrides: Mapping[str, Any] | None = None, root: Path = ROOT
) -> tuple[str, dict[str, str]]:
    """The project name and the config the CLI would hand the program, as `project:key` strings."""
    project_file = yaml.safe_load((root / "Pulumi.yaml").read_text())
    project = project_file["name"]
    values: dict[str, Any] = {
        f"{project}:{key}": spec["default"]
        for key, spec in (project_file.get("config") or {}).items()
        if isinstance(spec, dict) and "default" in spec
    }
    stack_file = root / f"Pulumi.{stack}.yaml"
    if stack_file.exists():
        values.update((yaml.safe_load(stack_file.read_text()) or {}).get("config") or {})
    for key, value in (overrides or {}).items():
        values[key if ":" in key else f"{project}:{key}"] = value
    return project, {k: _config_string(v) for k, v in values.items() if v is not None}


def _config_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


# -- what the mocks compute -------------------------------------------------------------------
def _unwrap(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return _unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


class AzureMocks(pulumi.runtime.Mocks):
    """Only what Azure would compute: ids, generated names, endpoints, keys."""

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict]:
        inputs = _unwrap(args.inputs)
        outs = {k: v for k, v in inputs.items() if not k.startswith("__")}
        typ = args.typ
        name = args.name
        rg = inputs.get("resourceGroupName", name)
        location = inputs.get("location", "westeurope")
        outs.setdefault("name", inputs.get("name") or name)
        resource_id = (
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{rg}/providers/"
            f"{typ.split(':')[1]}/{typ.split(':')[-1]}/{name}"
        )
        identity = outs.get("identity")
        if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
            # ARM answers a list of identity ids with a map of id to principal.
            outs["identity"] = {
                **identity,
                "userAssignedIdentities": {i: {} for i in identity["userAssignedIdentities"]},
            }
        if typ.endswith("Version") and "version" in inputs:
            # Asset versions are addressed by name and version, as in the workspace.
            resource_id = f"{resource_id}/{inputs.get('name')}/versions/{inputs['version']}"
        if typ == "azure-native:resources:ResourceGroup":
            resource_id = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{name}"
        elif typ == "azure-native:containerregistry:Registry":
            outs["loginServer"] = f"{name}.azurecr.io"
        elif typ == "azure-native:applicationinsights:Component":
            outs["instrumentationKey"] = "00000000-0000-0000-0000-0000000000a1"
            outs["connectionString"] = "InstrumentationKey=00000000-0000-0000-0000-0000000000a1"
        elif typ == "azure-native:operationalinsights:Workspace":
            outs["customerId"] = "00000000-0000-0000-0000-0000000000b1"
        elif typ == "azure-native:machinelearningservices:Workspace":
            outs["identity"] = {**inputs.get("identity", {}), "principalId": "mlw-principal"}
            outs["workspaceId"] = "00000000-0000-0000-0000-0000000000c1"
        elif typ == "azure-native:managedidentity:UserAssignedIdentity":
            outs |= {"principalId": f"{name}-principal", "clientId": f"{name}-client"}
        elif typ == "azure-native:containerservice:ManagedCluster":
            outs["identityProfile"] = {
                "kubeletidentity": {"objectId": "kubelet-object", "clientId": "kubelet-client"}
            }
        elif typ == "azure-native:containerinstance:ContainerGroup":
            ip = dict(inputs.get("ipAddress", {}))
            ip["fqdn"] = f"{ip.get('dnsNameLabel')}.{location}.azurecontainer.io"
            outs["ipAddress"] = ip
        elif typ == "azure-native:machinelearningservices:OnlineEndpoint":
            base = f"http://20.0.0.10/api/v1/endpoint/{name}"
            outs["properties"] = {
                **inputs.get("properties", {}),
                "scoringUri": f"{base}/score",
                "swaggerUri": f"{base}/swagger.json",
                "provisioningState": "Succeeded",
            }
        elif typ == "random:index/randomPassword:RandomPassword":
            outs["result"] = f"mock-{name}-value"
        elif typ == "random:index/randomString:RandomString":
            outs["result"] = "x1y2z3w4"
        elif typ == "docker-build:index:Image":
            tags = inputs.get("tags") or ["image"]
            outs["digest"] = "sha256:" + hashlib.sha256(tags[0].encode()).hexdigest()
            outs["ref"] = f"{tags[0]}@{outs['digest']}"
        return resource_id, outs

    def call(self, args: mocks.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        if args.token == "azure-native:authorization:getClientConfig":
            return {
                "subscriptionId": SUBSCRIPTION,
                "tenantId": TENANT,
                "clientId": "deployer-client",
                "objectId": "deployer-object",
            }, []
        if args.token == "azure-native:operationalinsights:getSharedKeys":
            return {"primarySharedKey": "mock-shared-key", "secondarySharedKey": "mock"}, []
        if args.token == "azure-native:storage:listStorageAccountKeys":
            return {"keys": [{"keyName": "key1", "value": "mock-account-key"}]}, []
        raise NotImplementedError(f"no mock for the call {args.token}")


# -- recording --------------------------------------------------------------------------------
def _plain(value: Any, path: str, secrets: set[str]) -> Any:
    """Protobuf JSON to Python, unwrapping secrets (recording their paths) and assets."""
    if isinstance(value, dict):
        sig = value.get(rpc._special_sig_key)
        if sig == rpc._special_secret_sig:
            secrets.add(path)
            return _plain(value.get("value"), path, set())
        if sig == rpc._special_asset_sig:
            return f"FileAsset({value.get('path')})"
        return {k: _plain(v, f"{path}.{k}" if path else k, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, f"{path}.{i}", secrets) for i, v in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, azure: pulumi.runtime.Mocks) -> None:
        super().__init__(azure)
        self.declared: list[DeclaredResource] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        secrets: set[str] = set()
        inputs = _plain(json_format.MessageToDict(request.object), "", secrets)
        urn = response.urn
        registration = self.resources.get(urn)
        parent = request.parent or ""
        self.declared.append(
            DeclaredResource(
                type=request.type,
                name=request.name,
                urn=urn,
                id=registration.id if registration else "",
                parent=parent,
                parent_type=parent.split("::")[2].split("$")[-1] if parent else "",
                custom=bool(request.custom),
                inputs={k: v for k, v in inputs.items() if not k.startswith("__")},
                secret_paths={p for p in secrets if not p.startswith("__")},
                outputs=_unwrap(registration.state) if registration else {},
                protect=bool(request.protect),
                dependencies=list(request.dependencies),
                ignore_changes=list(request.ignoreChanges),
            )
        )
        return response


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def run_program(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    root: Path = ROOT,
    preview: bool = True,
    azure: pulumi.runtime.Mocks | None = None,
) -> Program:
    """Runs `root/__main__.py` for `stack` under mocks (`azure`, by default `AzureMocks()`);
    raises what the program raises."""
    project, config = stack_config(stack, overrides, root)
    pulumi.runtime.set_all_config(config, [])
    runtime_settings: Any = settings.SETTINGS
    runtime_settings.rpc_manager.clear()
    runtime_settings.outputs.clear()
    settings.ROOT.set(None)
    monitor = RecordingMonitor(azure or AzureMocks())
    pulumi.runtime.set_mocks(
        monitor.mocks, project=project, stack=stack, preview=preview, monitor=monitor
    )

    def main() -> None:
        runpy.run_path(str(root / "__main__.py"), run_name="__main__")

    with _cwd(root):
        _sync_await(run_pulumi_func(main))
    program = Program(stack=stack, config=config, resources=monitor.declared)
    stack_resource = settings.get_root_resource()
    exported: dict[str, Any] = getattr(stack_resource, "outputs", {})
    for key, value in exported.items():
        output = pulumi.Output.from_input(value)
        program.outputs[key] = StackOutput(
            value=_sync_await(output.future()), secret=bool(_sync_await(output.is_secret()))
        )
    return program


# -- the plan ---------------------------------------------------------------------------------
def content_masks(root: Path = ROOT) -> dict[str, str]:
    """Content hashes shown by name in the plan, so editing the entry script or retraining
    does not rewrite the snapshot (the model's version still shows)."""
    from . import assets, image

    with _cwd(root):
        model = assets.read_model()
        named = {
            "model sha256": model.digest,
            "code sha256": assets.code_digest(),
            "environment sha256": assets.environment_digest(),
            "image sha256": image.image_digest(),
        }
    masks: dict[str, str] = {}
    for label, digest in named.items():
        masks[digest] = f"<{label}>"
        masks[assets.short(digest)] = f"<{label}>"
    return masks


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from _leaves(value[key], f"{path}.{key}" if path else key)
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    else:
        yield path, value


def render_plan(program: Program, masks: Mapping[str, str] | None = None) -> str:
    """The declared resources as a tree (type, logical name, every input); secrets hidden."""
    children: dict[str, list[DeclaredResource]] = {}
    for r in program.resources:
        children.setdefault(r.parent if program.by_urn(r.parent) else "", []).append(r)
    lines = [f"# stack {program.stack}: {len(program.resources)} resources (offline, under mocks)"]

    def show(value: Any) -> str:
        text = json.dumps(value, sort_keys=True)
        for digest, label in sorted((masks or {}).items(), key=lambda kv: -len(kv[0])):
            text = text.replace(digest, label)
        # Image digests follow the image's content, like the hashes above.
        return re.sub(r"sha256:[0-9a-f]{64}", "sha256:<image digest>", text)

    def walk(parent: str, depth: int) -> None:
        for r in sorted(children.get(parent, []), key=lambda r: (r.custom, r.type, r.name)):
            flag = "  [protected]" if r.protect else ""
            lines.append(f"{'  ' * depth}{r.type}  {r.name}{flag}")
            if r.custom:
                secret_paths = {p.replace(".", "\0") for p in r.secret_paths}
                for path, value in _leaves(r.inputs):
                    key = path.replace("[", ".").replace("]", "").replace(".", "\0")
                    hidden = any(key == s or key.startswith(s + "\0") for s in secret_paths)
                    lines.append(f"{'  ' * depth}    {path} = {SECRET if hidden else show(value)}")
            walk(r.urn, depth + 1)

    walk("", 0)
    lines.append("# outputs")
    for key in sorted(program.outputs):
        out = program.outputs[key]
        lines.append(f"    {key} = {SECRET if out.secret else show(out.value)}")
    return "\n".join(lines) + "\n"
