"""Small helpers for scripts/test.sh that are easier in Python than in bash.

Run with the project venv (.venv/bin/python), which has azure-storage-blob and
boto3 (via moto). Subcommands:

  free-ports N                      print N distinct free 127.0.0.1 TCP ports
  create-container URL NAME         create an Azurite blob container (SharedKey-signed)
  smoke                             round-trip an object through every service named
                                    by the MLOPS_TEST_* variables (a self-check)

Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import urllib.request
import uuid

# Azurite's well-known development account. The key is public (published in
# Microsoft's Azurite docs) and only ever valid against a local emulator.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def free_ports(count: int) -> list[int]:
    """Ask the kernel for `count` free ports.

    All sockets stay open until every port is chosen, so the ports are distinct.
    Another process may still grab one before our service binds it; test.sh
    retries a service whose port turned out to be taken.
    """
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def azurite_connection_string(root_url: str) -> str:
    root = root_url.rstrip("/")
    return (
        "DefaultEndpointsProtocol=http;"
        f"AccountName={AZURITE_ACCOUNT};"
        f"AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={root}/{AZURITE_ACCOUNT};"
    )


def create_container(root_url: str, name: str) -> None:
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    client = BlobServiceClient.from_connection_string(azurite_connection_string(root_url))
    try:
        client.create_container(name)
    except ResourceExistsError:
        pass  # idempotent: a rerun against the same Azurite is fine


def smoke() -> None:
    """Prove the bucket, the container and the MLflow server are usable."""
    env = os.environ
    key = f"smoke/{uuid.uuid4().hex}.txt"
    body = b"hello from scripts/services.py smoke"

    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=env["MLOPS_TEST_S3_ENDPOINT"],
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    bucket = env["MLOPS_TEST_S3_BUCKET"]
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    print(f"s3     ok: put+get s3://{bucket}/{key}")

    from azure.storage.blob import BlobServiceClient

    container = env["MLOPS_TEST_AZURE_CONTAINER"]
    blob_service = BlobServiceClient.from_connection_string(
        azurite_connection_string(env["MLOPS_TEST_AZURE_ENDPOINT"])
    )
    blob = blob_service.get_blob_client(container, key)
    blob.upload_blob(body)
    assert blob.download_blob().readall() == body
    print(f"azure  ok: put+get {container}/{key}")

    mlflow = env["MLOPS_TEST_MLFLOW_URI"].rstrip("/")
    with urllib.request.urlopen(f"{mlflow}/health", timeout=10) as resp:
        assert resp.read().strip() == b"OK"
    req = urllib.request.Request(
        f"{mlflow}/api/2.0/mlflow/experiments/create",
        data=json.dumps({"name": f"smoke-{uuid.uuid4().hex}"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        experiment_id = json.load(resp)["experiment_id"]
    print(f"mlflow ok: created experiment {experiment_id}")


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "free-ports":
        print(" ".join(str(p) for p in free_ports(int(argv[1]))))
    elif len(argv) == 3 and argv[0] == "create-container":
        create_container(argv[1], argv[2])
    elif argv == ["smoke"]:
        smoke()
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
