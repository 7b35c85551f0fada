"""Uploading run directories to S3, against a real S3-compatible server (moto) on loopback."""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from roamsim import load_scenario, simulate
from roamsim.cli.main import cli
from roamsim.upload import (
    INSTALL_HINT,
    UploadConfig,
    UploadInputError,
    digest_file,
    make_client,
    parse_s3_url,
    upload_run,
)
from serverkit import free_port, stop

pytest.importorskip("boto3")

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart.yaml"
SECRET = "roamsim-test-secret-never-print-me"
KEY_ID = "AKIAROAMSIMTESTING01"
# Small sizes so a tiny run exercises multipart: messages.parquet (~50 KB) and transactions.parquet (~18 KB).
PART = 8 * 1024
SMALL = UploadConfig(multipart_threshold=16 * 1024, part_size=PART)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server process on loopback (parts down to 1 KiB allowed), stopped at the end."""
    port = free_port()
    moto_server = Path(sys.executable).parent / "moto_server"
    cmd = [str(moto_server)] if moto_server.exists() else [sys.executable, "-m", "moto.server"]
    env = {**os.environ, "S3_UPLOAD_PART_MIN_SIZE": "1024"}
    proc = subprocess.Popen([*cmd, "-H", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials from the environment only; no shared files, no instance metadata."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name.startswith("ROAMSIM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "qs"
    summary = simulate(load_scenario(QUICKSTART), out, scale=0.02, scenario_path=QUICKSTART)
    assert summary.status == "complete"
    return out


def N_FILES(run: Path) -> int:
    """Files of the run directory (every one is uploaded)."""
    return sum(1 for p in run.rglob("*") if p.is_file())


_bucket_counter = iter(range(10_000))


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    name = f"roamsim-test-{next(_bucket_counter)}"
    make_client(s3_endpoint).create_bucket(Bucket=name)
    return name


class Recorder:
    """Records the keys of the S3 calls that write objects, in order; can interrupt a chosen call."""

    def __init__(self, client: Any, interrupt_at: tuple[str, str, int] | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.interrupt_at = interrupt_at
        for op in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload",
                   "AbortMultipartUpload", "DeleteObject"):
            client.meta.events.register(f"provide-client-params.s3.{op}", self._hook(op))

    def _hook(self, op: str) -> Any:
        def hook(params: dict[str, Any], **_: Any) -> None:
            self.calls.append((op, params["Key"]))
            at = self.interrupt_at
            part_ok = op != "UploadPart" or (at is not None and params["PartNumber"] == at[2])
            if at is not None and at[:2] == (op, params["Key"]) and part_ok:
                raise KeyboardInterrupt  # as Ctrl-C would, in the middle of a multipart upload
        return hook

    def written(self) -> list[str]:
        """Keys whose object became visible (PutObject or CompleteMultipartUpload), in order."""
        return [k for op, k in self.calls if op in ("PutObject", "CompleteMultipartUpload")]

    def count(self, op: str) -> int:
        return sum(1 for o, _ in self.calls if o == op)


def _local_files(run: Path) -> dict[str, bytes]:
    return {p.relative_to(run).as_posix(): p.read_bytes() for p in run.rglob("*") if p.is_file()}


def _remote_files(client: Any, bucket: str, prefix: str) -> dict[str, bytes]:
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix + "/").get("Contents", [])
    return {o["Key"].removeprefix(prefix + "/"): client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            for o in listed}


def _no_multipart_uploads(client: Any, bucket: str) -> bool:
    return not client.list_multipart_uploads(Bucket=bucket).get("Uploads")


# ------------------------------------------------------------------- unit


def test_parse_s3_url() -> None:
    assert parse_s3_url("s3://my-bucket/runs/qs/") == parse_s3_url("s3://my-bucket/runs/qs")
    u = parse_s3_url("s3://my-bucket/runs/qs")
    assert (u.bucket, u.prefix, u.key("manifest.json")) == ("my-bucket", "runs/qs", "runs/qs/manifest.json")
    assert parse_s3_url("s3://my-bucket").key("kpis.json") == "kpis.json"
    for bad in ("my-bucket/x", "http://b/x", "s3://", "s3://B/x", "s3://ab/x", "s3://bu_cket/x", "s3://bkt/a//b",
                "s3://bkt/../x"):
        with pytest.raises(UploadInputError):
            parse_s3_url(bad)


def test_endpoint_with_credentials_is_refused() -> None:
    with pytest.raises(UploadInputError) as info:
        UploadConfig(endpoint_url=f"http://{KEY_ID}:{SECRET}@127.0.0.1:9000")
    assert SECRET not in str(info.value)


# ------------------------------------------------------------ against moto


def test_upload_a_run(s3_endpoint: str, bucket: str, run_dir: Path) -> None:
    client = make_client(s3_endpoint)
    rec = Recorder(client)
    report = upload_run(run_dir, f"s3://{bucket}/runs/qs", config=SMALL, client=client)

    local = _local_files(run_dir)
    assert set(local) >= {"manifest.json", "kpis.json", "messages.parquet", "procedures.parquet",
                          "sessions.parquet", "transactions.parquet", "report.html", "metrics.prom"}
    assert set(local) == {p.name for p in run_dir.iterdir()}
    assert _remote_files(client, bucket, "runs/qs") == local  # every file, byte-identical, nothing else
    # The manifest became visible last, after every other object.
    assert rec.written()[-1] == "runs/qs/manifest.json"
    assert sorted(rec.written()) == sorted(f"runs/qs/{n}" for n in local)
    assert report.uploaded == rec.written() and not report.skipped
    assert report.bytes_uploaded == sum(len(b) for b in local.values())

    # Multipart for the files above the threshold, with the composite SHA-256 the store recorded.
    key = "runs/qs/messages.parquet"
    data = local["messages.parquet"]
    nparts = -(-len(data) // PART)
    assert nparts > 1 and report.multipart[key] == nparts
    small = [f for f, data_ in local.items() if len(data_) < SMALL.multipart_threshold]
    assert small and not any(f"runs/qs/{f}" in report.multipart for f in small)
    digests = b"".join(hashlib.sha256(data[i:i + PART]).digest()
                       for i in range(0, len(data), PART))
    attrs = client.get_object_attributes(Bucket=bucket, Key=key, ObjectAttributes=["Checksum", "ObjectSize"])
    assert attrs["ObjectSize"] == len(data)
    composite = base64.b64encode(hashlib.sha256(digests).digest()).decode()
    assert attrs["Checksum"]["ChecksumSHA256"].split("-")[0] == composite
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["Metadata"]["roamsim-sha256"] == hashlib.sha256(data).hexdigest()
    assert head["ContentType"] == "application/vnd.apache.parquet"
    # A single-part object carries the plain SHA-256.
    one = small[0]
    single = client.head_object(Bucket=bucket, Key=f"runs/qs/{one}", ChecksumMode="ENABLED")
    assert single["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(local[one]).digest()).decode()
    assert _no_multipart_uploads(client, bucket)


def test_interrupted_upload_resumes(s3_endpoint: str, bucket: str, run_dir: Path) -> None:
    client = make_client(s3_endpoint)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    url = f"s3://{bucket}/runs/qs"
    config = SMALL

    # Ctrl-C during part 2 of transactions.parquet (after the files whose names sort before it are in place).
    rec = Recorder(client, interrupt_at=("UploadPart", "runs/qs/transactions.parquet", 2))
    with pytest.raises(KeyboardInterrupt):
        upload_run(run_dir, url, config=config, client=client)
    before = [f"runs/qs/{n}" for n in sorted(p.name for p in run_dir.iterdir())
              if n < "transactions.parquet" and n != "manifest.json"]
    assert "runs/qs/kpis.json" in before and "runs/qs/sessions.parquet" in before
    assert rec.written() == before
    assert ("AbortMultipartUpload", "runs/qs/transactions.parquet") in rec.calls
    assert _no_multipart_uploads(client, bucket)  # the interrupted multipart upload was aborted
    assert set(_remote_files(client, bucket, "runs/qs")) == {k.removeprefix("runs/qs/") for k in before}
    # Readers never see half a run: no manifest yet.
    with pytest.raises(client.exceptions.ClientError):
        client.head_object(Bucket=bucket, Key="runs/qs/manifest.json")

    # Rerun with a fresh client: the objects already there are skipped, the rest uploaded, the manifest last.
    client2 = make_client(s3_endpoint)
    rec2 = Recorder(client2)
    report = upload_run(run_dir, url, config=config, client=client2)
    assert report.skipped == before
    assert report.uploaded == rec2.written() == ["runs/qs/transactions.parquet", "runs/qs/manifest.json"]
    assert _remote_files(client2, bucket, "runs/qs") == _local_files(run_dir)
    assert _no_multipart_uploads(client2, bucket)
    # Every object exactly once: one version per key in the versioned bucket, no delete markers.
    versions = client2.list_object_versions(Bucket=bucket, Prefix="runs/qs/")
    keys = sorted(v["Key"] for v in versions.get("Versions", []))
    assert keys == sorted(f"runs/qs/{n}" for n in _local_files(run_dir))
    assert not versions.get("DeleteMarkers")

    # A third run has nothing to do.
    rec3 = Recorder(client2)
    report = upload_run(run_dir, url, config=config, client=client2)
    assert report.uploaded == [] and len(report.skipped) == N_FILES(run_dir) and rec3.calls == []


def test_reupload_of_a_changed_run_hides_the_old_manifest_first(
        s3_endpoint: str, bucket: str, run_dir: Path, tmp_path: Path) -> None:
    client = make_client(s3_endpoint)
    run = tmp_path / "qs"
    shutil.copytree(run_dir, run)
    upload_run(run, f"s3://{bucket}/x", config=SMALL, client=client)
    # The run changes (e.g. re-simulated into the same directory): the old manifest goes first.
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["wall_time_s"] = 123.0
    (run / "manifest.json").write_text(json.dumps(manifest))
    (run / "kpis.json").write_text("{}\n")
    rec = Recorder(client)
    report = upload_run(run, f"s3://{bucket}/x", config=SMALL, client=client)
    assert rec.calls[0] == ("DeleteObject", "x/manifest.json")
    assert rec.written() == report.uploaded == ["x/kpis.json", "x/manifest.json"]
    assert _remote_files(client, bucket, "x") == _local_files(run)


def test_resume_check_digests_with_the_remote_part_size(s3_endpoint: str, bucket: str, run_dir: Path) -> None:
    client = make_client(s3_endpoint)
    upload_run(run_dir, f"s3://{bucket}/p", config=SMALL, client=client)
    other = UploadConfig(multipart_threshold=4096, part_size=4096)
    report = upload_run(run_dir, f"s3://{bucket}/p", config=other, client=client)
    assert report.uploaded == [] and len(report.skipped) == N_FILES(run_dir)
    assert digest_file(run_dir / "kpis.json", None).size == (run_dir / "kpis.json").stat().st_size


# -------------------------------------------------------------------- CLI


def _cli(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), env=env)


def _assert_no_secret(result: Any) -> None:
    assert SECRET not in result.stdout and SECRET not in result.stderr
    assert SECRET not in str(result.exception or "")


def test_cli_upload(s3_endpoint: str, bucket: str, run_dir: Path) -> None:
    result = _cli("upload", str(run_dir), f"s3://{bucket}/cli", env={"ROAMSIM_S3_ENDPOINT_URL": s3_endpoint})
    assert result.exit_code == 0, result.output
    n = N_FILES(run_dir)
    assert f"to s3://{bucket}/cli: {n} files ({n} written" in result.stdout
    assert "upload cli/manifest.json" in result.stderr
    _assert_no_secret(result)
    # Rerun: everything skipped. boto3's own AWS_ENDPOINT_URL works as well.
    result = _cli("upload", str(run_dir), f"s3://{bucket}/cli", env={"AWS_ENDPOINT_URL": s3_endpoint})
    assert result.exit_code == 0, result.output
    assert f"(0 written, 0 bytes; {n} already there)" in result.stdout
    _assert_no_secret(result)
    assert _remote_files(make_client(s3_endpoint), bucket, "cli") == _local_files(run_dir)


def test_cli_run_with_upload(s3_endpoint: str, bucket: str, tmp_path: Path) -> None:
    out = tmp_path / "qs"
    result = _cli("run", str(QUICKSTART), "-o", str(out), "--scale", "0.02", "--upload", f"s3://{bucket}/r",
                  "--endpoint-url", s3_endpoint)
    assert result.exit_code == 0, result.output
    assert "uploaded" in result.stdout
    _assert_no_secret(result)
    assert _remote_files(make_client(s3_endpoint), bucket, "r") == _local_files(out)


def test_cli_bad_input(s3_endpoint: str, run_dir: Path, tmp_path: Path) -> None:
    env = {"ROAMSIM_S3_ENDPOINT_URL": s3_endpoint}
    result = _cli("upload", str(run_dir), "bucket/prefix", env=env)
    assert result.exit_code == 2 and "not an S3 URL" in result.stderr
    result = _cli("upload", str(run_dir), "s3://Bad_Bucket/x", env=env)
    assert result.exit_code == 2 and "not a valid bucket name" in result.stderr
    result = _cli("upload", str(tmp_path / "missing"), "s3://bkt-x/p", env=env)
    assert result.exit_code == 2 and "no such run directory" in result.stderr
    result = _cli("upload", str(tmp_path), "s3://bkt-x/p", env=env)
    assert result.exit_code == 2 and "not a run directory" in result.stderr
    result = _cli("upload", str(run_dir), "s3://bkt-x/p", "--part-size", "1MiB", env=env)
    assert result.exit_code == 2
    result = _cli("upload", str(run_dir), "s3://bkt-x/p", "--endpoint-url", f"http://{KEY_ID}:{SECRET}@127.0.0.1:1")
    assert result.exit_code == 2 and "must not contain credentials" in result.stderr
    _assert_no_secret(result)
    # --upload with a bad URL fails before simulating: nothing is written.
    out = tmp_path / "never"
    result = _cli("run", str(QUICKSTART), "-o", str(out), "--scale", "0.02", "--upload", "s3:/x")
    assert result.exit_code == 2 and not out.exists()


def test_cli_partial_run(s3_endpoint: str, bucket: str, run_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "partial"
    shutil.copytree(run_dir, run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["status"] = "partial"
    (run / "manifest.json").write_text(json.dumps(manifest))
    env = {"ROAMSIM_S3_ENDPOINT_URL": s3_endpoint}
    result = _cli("upload", str(run), f"s3://{bucket}/partial", env=env)
    assert result.exit_code == 2
    assert "not complete (manifest status 'partial')" in result.stderr and "--allow-partial" in result.stderr
    assert "Contents" not in make_client(s3_endpoint).list_objects_v2(Bucket=bucket)
    result = _cli("upload", str(run), f"s3://{bucket}/partial", "--allow-partial", env=env)
    assert result.exit_code == 0, result.output


def test_cli_failure_exit_1_without_secret(s3_endpoint: str, run_dir: Path) -> None:
    result = _cli("upload", str(run_dir), "s3://no-such-bucket-here/p", "--endpoint-url", s3_endpoint)
    assert result.exit_code == 1
    assert "does not exist" in result.stderr
    _assert_no_secret(result)


def test_without_boto3(monkeypatch: pytest.MonkeyPatch, run_dir: Path, tmp_path: Path) -> None:
    real_import = importlib.import_module

    def no_boto3(name: str, package: str | None = None) -> Any:
        if name == "boto3" or name.startswith("boto3."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", no_boto3)
    for args in (["upload", str(run_dir), "s3://bkt-x/p"],
                 ["run", str(QUICKSTART), "-o", str(tmp_path / "never"), "--upload", "s3://bkt-x/p"]):
        result = _cli(*args)
        assert result.exit_code == 2
        assert INSTALL_HINT in result.stderr.splitlines()
    assert not (tmp_path / "never").exists()
