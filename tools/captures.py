"""Download a stack's captured rows into a local folder, for `make drift DRIFT_ARGS=--stack ...`.

Where they are comes from the stack's `captures` output (infra/capture.py, CAPTURES_OUTPUT):
dev, the Azure Files share the container group writes to; prod, the blobs AzureML's data
collection writes. Both are read with the caller's Azure AD identity (azure-identity's
DefaultAzureCredential: `az login` locally, OIDC in a workflow), which needs Storage File Data
Privileged Reader (dev) or Storage Blob Data Reader (prod) on the workspace's storage account.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from infra.capture import CAPTURES_OUTPUT
from tools.drift import DriftError

ROOT = Path(__file__).resolve().parent.parent


def stack_captures(stack: str) -> dict:
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise DriftError("--stack needs the pulumi CLI on PATH; or download the captures yourself")
    command = [pulumi, "stack", "output", CAPTURES_OUTPUT, "--json", "--stack", stack]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = done.stderr.strip() or f"exit code {done.returncode}"
        raise DriftError(f"pulumi stack output {CAPTURES_OUTPUT} failed for {stack!r}: {detail}")
    try:
        where = json.loads(done.stdout)
    except ValueError:
        where = None
    if not isinstance(where, dict) or not isinstance(where.get("account"), str):
        raise DriftError(f"stack {stack!r} has no usable {CAPTURES_OUTPUT!r} output")
    return where


def download_blobs(container, prefix: str, folder: Path) -> int:
    """Every .jsonl blob under `prefix`, kept at its path below the prefix."""
    count = 0
    for blob in container.list_blobs(name_starts_with=prefix):
        if not blob.name.endswith(".jsonl"):
            continue
        target = folder / blob.name[len(prefix) :].lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(container.download_blob(blob.name).readall())
        count += 1
    return count


def download_share(directory, folder: Path) -> int:
    """Every .jsonl file of a share directory, recursively, kept at its path."""
    count = 0
    for item in directory.list_directories_and_files():
        if item["is_directory"]:
            sub = directory.get_subdirectory_client(item["name"])
            count += download_share(sub, folder / item["name"])
        elif item["name"].endswith(".jsonl"):
            folder.mkdir(parents=True, exist_ok=True)
            data = directory.get_file_client(item["name"]).download_file().readall()
            (folder / item["name"]).write_bytes(data)
            count += 1
    return count


def download(stack: str, folder: Path, where: dict | None = None) -> int:
    from azure.core.exceptions import AzureError
    from azure.identity import DefaultAzureCredential

    where = where or stack_captures(stack)
    credential = DefaultAzureCredential()
    try:
        if "share" in where:
            from azure.storage.fileshare import ShareClient

            share = ShareClient(
                f"https://{where['account']}.file.core.windows.net",
                where["share"],
                credential=credential,
                token_intent="backup",  # what Azure AD access to file data requires
            )
            count = download_share(share.get_directory_client(""), folder)
        else:
            from azure.storage.blob import ContainerClient

            container = ContainerClient(
                f"https://{where['account']}.blob.core.windows.net",
                where["container"],
                credential=credential,
            )
            count = download_blobs(container, where["prefix"], folder)
    except AzureError as ex:
        raise DriftError(f"could not download the {stack} captures: {ex}") from None
    print(f"downloaded {count} capture files of {stack} into {folder}")
    return count
