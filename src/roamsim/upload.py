"""Upload a finished run directory to S3 (or an S3-compatible store).

``upload_run(run_dir, "s3://bucket/prefix")`` copies every file of the run to
``prefix/<relative path>`` with these guarantees:

* **The manifest goes last.** ``manifest.json`` is uploaded only once every
  other file is in place and verified, so a reader that waits for it never sees
  half a run. If the prefix already holds a *different* ``manifest.json`` (an
  older run), it is deleted before anything else is written.
* **Checksums are verified.** Every object and every part is sent with its
  SHA-256 (``x-amz-checksum-sha256``, which S3 checks on receipt); after the
  upload a ``HEAD`` (``ChecksumMode=ENABLED``) must return that checksum (the
  composite ``sha256(part digests)`` for multipart objects) and the size. A
  store that returns no checksum is checked against the ETag (MD5) instead.
  The file's SHA-256 is also stored as object metadata ``roamsim-sha256``.
* **Resumable.** Before uploading a file, its key is ``HEAD``-ed: an object of
  the same size whose ``roamsim-sha256`` metadata equals the local file's
  SHA-256 (and whose checksum verifies) is skipped. Objects appear atomically
  in S3 (PUT, or CompleteMultipartUpload), so an interrupted upload leaves only
  whole, verified objects behind, and a rerun uploads just the rest.
* **No dangling multipart uploads.** A multipart upload interrupted by any
  exception (Ctrl-C included) is aborted before the exception propagates.

Credentials come only from boto3's standard chain (environment, shared
config/credentials files, container/instance metadata) and are never logged.
The endpoint is ``endpoint_url`` or, if unset, boto3's own ``AWS_ENDPOINT_URL``
/ ``AWS_ENDPOINT_URL_S3`` / config-file settings. boto3 is an optional
dependency (the ``s3`` extra).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib
import json
import mimetypes
import re
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

MANIFEST = "manifest.json"
MiB = 1024 * 1024
DEFAULT_MULTIPART_THRESHOLD = 64 * MiB
DEFAULT_PART_SIZE = 16 * MiB
S3_MIN_PART_SIZE = 5 * MiB
S3_MAX_PARTS = 10_000
META_SHA256 = "roamsim-sha256"
META_PART_SIZE = "roamsim-part-size"
INSTALL_HINT = "pip install 'roamsim[s3]'"
ENDPOINT_ENV = "ROAMSIM_S3_ENDPOINT_URL"

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_READ_CHUNK = 1024 * 1024


class UploadInputError(ValueError):
    """The upload cannot start: bad URL, not a (finished) run directory, bad configuration."""


class S3Unavailable(UploadInputError):
    """boto3 (the ``s3`` extra) is not installed."""

    def __init__(self) -> None:
        super().__init__(f"S3 upload needs boto3, which is not installed; install the s3 extra:\n{INSTALL_HINT}")


class UploadError(RuntimeError):
    """The upload failed (the store refused a request, a checksum did not verify, ...)."""


@dataclass(frozen=True)
class S3Url:
    bucket: str
    prefix: str
    """Key prefix without leading or trailing slash ("" for the bucket root)."""

    def key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


def parse_s3_url(url: str) -> S3Url:
    """Parse ``s3://bucket[/prefix]``; raise :class:`UploadInputError` with the reason otherwise."""
    if not url.startswith("s3://"):
        raise UploadInputError(f"{url!r} is not an S3 URL; expected s3://BUCKET[/PREFIX]")
    rest = url[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    if not _BUCKET_RE.match(bucket) or ".." in bucket:
        raise UploadInputError(
            f"{url!r}: {bucket!r} is not a valid bucket name (3-63 lowercase letters, digits, dots, hyphens)")
    prefix = prefix.strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise UploadInputError(f"{url!r}: the key prefix {prefix!r} has an empty, '.' or '..' segment")
    return S3Url(bucket, prefix)


def check_endpoint_url(endpoint_url: str) -> str:
    """An endpoint must be ``http(s)://host[:port][/path]`` and carry no credentials."""
    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UploadInputError("the endpoint URL must be http(s)://HOST[:PORT]")
    if parts.username is not None or parts.password is not None:
        # Never echo it: it holds a secret. Credentials come from the standard AWS sources only.
        raise UploadInputError("the endpoint URL must not contain credentials; use the standard AWS credential "
                               "sources (environment, shared credentials file, instance metadata)")
    return endpoint_url


def load_boto3() -> ModuleType:
    """Import boto3, or raise :class:`S3Unavailable` (the message holds the install line)."""
    try:
        return importlib.import_module("boto3")
    except ImportError:
        raise S3Unavailable() from None


@dataclass(frozen=True)
class UploadConfig:
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD
    """Files of at least this many bytes are uploaded in parts."""
    part_size: int = DEFAULT_PART_SIZE
    """Bytes per part (S3 wants at least 5 MiB except for the last part; raised to stay within 10,000 parts)."""
    endpoint_url: str | None = None
    """S3-compatible endpoint; ``None`` leaves it to boto3 (``AWS_ENDPOINT_URL``, config files, AWS)."""

    def __post_init__(self) -> None:
        if self.part_size < 1 or self.multipart_threshold < 1:
            raise UploadInputError("the part size and the multipart threshold must be positive")
        if self.endpoint_url is not None:
            check_endpoint_url(self.endpoint_url)


def make_client(endpoint_url: str | None = None) -> Any:
    """An S3 client from boto3's standard credential chain, with retries."""
    boto3 = load_boto3()
    botocore_config = importlib.import_module("botocore.config")
    if endpoint_url is not None:
        check_endpoint_url(endpoint_url)
    session = boto3.session.Session()
    config = botocore_config.Config(retries={"max_attempts": 5, "mode": "standard"},
                                    s3={"addressing_style": "path"} if endpoint_url else {})
    return session.client("s3", endpoint_url=endpoint_url, config=config,
                          region_name=session.region_name or "us-east-1")


# ------------------------------------------------------------------- hashing


@dataclass(frozen=True)
class FileDigest:
    size: int
    sha256: bytes
    md5: bytes
    part_size: int | None
    """The part size of ``part_sha256``/``part_md5`` (``None``: a single-part object)."""
    part_sha256: tuple[bytes, ...] = ()
    part_md5: tuple[bytes, ...] = ()

    @property
    def checksum(self) -> str:
        """The object's ``ChecksumSHA256`` as S3 reports it (composite for multipart, without ``-N``)."""
        if self.part_size is None:
            return _b64(self.sha256)
        return _b64(hashlib.sha256(b"".join(self.part_sha256)).digest())

    @property
    def etag(self) -> str:
        if self.part_size is None:
            return self.md5.hex()
        return f"{hashlib.md5(b''.join(self.part_md5), usedforsecurity=False).hexdigest()}-{len(self.part_md5)}"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def digest_file(path: Path, part_size: int | None) -> FileDigest:
    """SHA-256 and MD5 of the file and, if ``part_size`` is given, of each part."""
    whole, whole_md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    part_sha: list[bytes] = []
    part_md5: list[bytes] = []
    size = 0
    with path.open("rb") as f:
        while True:
            chunk = f.read(part_size if part_size is not None else _READ_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            whole.update(chunk)
            whole_md5.update(chunk)
            if part_size is not None:
                part_sha.append(hashlib.sha256(chunk).digest())
                part_md5.append(hashlib.md5(chunk, usedforsecurity=False).digest())
    if part_size is not None and not part_sha:  # an empty file is one empty part
        part_sha, part_md5 = [hashlib.sha256(b"").digest()], [hashlib.md5(b"", usedforsecurity=False).digest()]
    return FileDigest(size, whole.digest(), whole_md5.digest(), part_size, tuple(part_sha), tuple(part_md5))


def _part_size_for(size: int, config: UploadConfig) -> int | None:
    if size < config.multipart_threshold:
        return None
    return max(config.part_size, -(-size // S3_MAX_PARTS))


# -------------------------------------------------------------------- upload


@dataclass
class UploadReport:
    url: S3Url
    uploaded: list[str] = field(default_factory=list)
    """Keys written by this call, in order (the manifest last)."""
    skipped: list[str] = field(default_factory=list)
    """Keys already present with the same SHA-256 (a resumed or repeated upload)."""
    multipart: dict[str, int] = field(default_factory=dict)
    """Key → number of parts, for the keys uploaded in parts."""
    bytes_uploaded: int = 0


def run_files(run_dir: Path, *, allow_partial: bool = False) -> list[str]:
    """The files of a finished run (relative POSIX paths, sorted, the manifest last).

    Every regular file under the run directory is included except temporary
    (``*.tmp``) and hidden files. Raises :class:`UploadInputError` when
    ``run_dir`` is not a run directory, when its manifest status is not
    ``complete`` (unless ``allow_partial``), or when a file it lists is missing.
    """
    if not run_dir.is_dir():
        raise UploadInputError(f"{run_dir}: no such run directory")
    manifest_path = run_dir / MANIFEST
    if not manifest_path.is_file():
        raise UploadInputError(f"{run_dir}: not a run directory (no {MANIFEST})")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UploadInputError(f"{manifest_path}: unreadable manifest: {exc}") from None
    status = manifest.get("status") if isinstance(manifest, dict) else None
    if status != "complete" and not allow_partial:
        raise UploadInputError(
            f"{run_dir}: the run is not complete (manifest status {status!r}); "
            "refusing to upload it (use --allow-partial to upload it anyway)")
    listed = manifest.get("files", []) if isinstance(manifest, dict) else []
    missing = [f for f in listed if isinstance(f, str) and not (run_dir / f).is_file()]
    if missing and status == "complete":
        raise UploadInputError(f"{run_dir}: files listed in the manifest are missing: {', '.join(missing)}")
    files = sorted(
        p.relative_to(run_dir).as_posix()
        for p in run_dir.rglob("*")
        if p.is_file() and not p.name.endswith(".tmp")
        and not any(part.startswith(".") for part in p.relative_to(run_dir).parts)
    )
    files.remove(MANIFEST)
    return [*files, MANIFEST]


def _content_type(name: str) -> str:
    if name.endswith(".parquet"):
        return "application/vnd.apache.parquet"
    if name.endswith(".pcapng"):
        return "application/vnd.tcpdump.pcap"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


class _Uploader:
    def __init__(self, client: Any, url: S3Url, config: UploadConfig, log: Callable[[str], None]) -> None:
        self.client = client
        self.url = url
        self.config = config
        self.log = log
        exceptions = importlib.import_module("botocore.exceptions")
        self.client_error: type[Exception] = exceptions.ClientError

    def _error_code(self, exc: Exception) -> str:
        response = getattr(exc, "response", None) or {}
        return str(response.get("Error", {}).get("Code", ""))

    def head(self, key: str) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = self.client.head_object(Bucket=self.url.bucket, Key=key, ChecksumMode="ENABLED")
        except self.client_error as exc:
            # A missing key answers 404 to a caller who may list the bucket, and 403 to one whose
            # s3:ListBucket is limited by an s3:prefix condition (as the lab IAM role's is).
            # Either way there is nothing there this caller can use: upload it.
            if self._error_code(exc) in ("404", "NoSuchKey", "NotFound", "403", "Forbidden", "AccessDenied"):
                return None
            raise
        return head

    def matches(self, head: dict[str, Any] | None, path: Path, local: FileDigest) -> bool:
        """Whether the object described by ``head`` holds exactly the bytes of ``local``."""
        if head is None or head.get("ContentLength") != local.size:
            return False
        if head.get("Metadata", {}).get(META_SHA256) != local.sha256.hex():
            return False
        remote_part = head.get("Metadata", {}).get(META_PART_SIZE)
        remote_part_size = int(remote_part) if remote_part and remote_part.isdigit() else None
        if remote_part_size != local.part_size:  # uploaded with another part layout: digest it that way
            local = digest_file(path, remote_part_size)
        checksum = head.get("ChecksumSHA256")
        if checksum:
            return bool(checksum.split("-", 1)[0] == local.checksum)
        etag = str(head.get("ETag", "")).strip('"')
        return etag == local.etag

    def put(self, key: str, path: Path, digest: FileDigest) -> None:
        self.log(f"upload {key} ({digest.size:,} bytes)")
        body = path.read_bytes()
        if len(body) != digest.size or hashlib.sha256(body).digest() != digest.sha256:
            raise UploadError(f"{path} changed while it was being uploaded")
        self.client.put_object(
            Bucket=self.url.bucket, Key=key, Body=body, ContentType=_content_type(key),
            ChecksumAlgorithm="SHA256", ChecksumSHA256=_b64(digest.sha256),
            Metadata={META_SHA256: digest.sha256.hex()},
        )

    def put_multipart(self, key: str, path: Path, digest: FileDigest) -> int:
        if digest.part_size is None:
            raise ValueError(f"{path}: no part size was chosen for a multipart upload")
        nparts = len(digest.part_sha256)
        self.log(f"upload {key} ({digest.size:,} bytes in {nparts} parts)")
        created = self.client.create_multipart_upload(
            Bucket=self.url.bucket, Key=key, ContentType=_content_type(key), ChecksumAlgorithm="SHA256",
            Metadata={META_SHA256: digest.sha256.hex(), META_PART_SIZE: str(digest.part_size)},
        )
        upload_id = created["UploadId"]
        try:
            parts: list[dict[str, Any]] = []
            with path.open("rb") as f:
                for number, expected in enumerate(digest.part_sha256, start=1):
                    data = f.read(digest.part_size)
                    if hashlib.sha256(data).digest() != expected:
                        raise UploadError(f"{path} changed while it was being uploaded")
                    answer = self.client.upload_part(
                        Bucket=self.url.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data,
                        ChecksumAlgorithm="SHA256", ChecksumSHA256=_b64(expected),
                    )
                    returned = answer.get("ChecksumSHA256")
                    if returned is not None and returned != _b64(expected):
                        raise UploadError(f"{key}: part {number} checksum mismatch (sent {_b64(expected)}, "
                                          f"the store computed {returned})")
                    parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": _b64(expected)})
            self.client.complete_multipart_upload(
                Bucket=self.url.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
        except BaseException:
            # Interrupted or failed: leave no incomplete upload (and its stored parts) behind.
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.url.bucket, Key=key, UploadId=upload_id)
            raise
        return nparts

    def verify(self, key: str, path: Path, digest: FileDigest) -> None:
        head = self.head(key)
        if not self.matches(head, path, digest):
            # Never leave an object that would pass the resume check with the wrong bytes.
            with contextlib.suppress(Exception):
                self.client.delete_object(Bucket=self.url.bucket, Key=key)
            got = {k: (head or {}).get(k) for k in ("ContentLength", "ChecksumSHA256", "ETag")}
            raise UploadError(f"s3://{self.url.bucket}/{key}: verification failed "
                              f"after upload (expected {digest.size} bytes, SHA-256 {digest.checksum}; got {got})")


def upload_run(
    run_dir: str | Path,
    url: str | S3Url,
    *,
    config: UploadConfig | None = None,
    client: Any = None,
    allow_partial: bool = False,
    log: Callable[[str], None] | None = None,
) -> UploadReport:
    """Upload the run directory ``run_dir`` to ``url`` (``s3://bucket/prefix``); see the module docstring.

    ``client`` is a boto3 S3 client (default: :func:`make_client` with
    ``config.endpoint_url``). ``log`` receives one line per file.
    Raises :class:`UploadInputError` (nothing was uploaded) or :class:`UploadError`.
    """
    config = config or UploadConfig()
    target = url if isinstance(url, S3Url) else parse_s3_url(url)
    run = Path(run_dir)
    files = run_files(run, allow_partial=allow_partial)
    load_boto3()
    if client is None:
        client = make_client(config.endpoint_url)
    say = log or (lambda _line: None)
    up = _Uploader(client, target, config, say)
    report = UploadReport(target)
    exceptions = importlib.import_module("botocore.exceptions")
    try:
        # An older, different run's manifest under this prefix must not describe the files we replace.
        manifest_key = target.key(MANIFEST)
        manifest_digest = digest_file(run / MANIFEST, None)
        remote_manifest = up.head(manifest_key)
        if remote_manifest is not None and not up.matches(remote_manifest, run / MANIFEST, manifest_digest):
            say(f"delete {manifest_key} (an older run's manifest; rewritten last)")
            client.delete_object(Bucket=target.bucket, Key=manifest_key)
        for name in files:
            path = run / name
            key = target.key(name)
            digest = digest_file(path, _part_size_for(path.stat().st_size, config))
            if up.matches(up.head(key), path, digest):
                say(f"skip {key} (already uploaded, same SHA-256)")
                report.skipped.append(key)
                continue
            if digest.part_size is None:
                up.put(key, path, digest)
            else:
                report.multipart[key] = up.put_multipart(key, path, digest)
            up.verify(key, path, digest)
            report.uploaded.append(key)
            report.bytes_uploaded += digest.size
    except exceptions.NoCredentialsError:
        raise UploadInputError("no AWS credentials found: set them in the environment (AWS_ACCESS_KEY_ID, ...), "
                               "a shared credentials/config file (AWS_PROFILE), or use an instance role") from None
    except up.client_error as exc:
        code = up._error_code(exc)
        if code == "NoSuchBucket":
            raise UploadError(f"the bucket {target.bucket!r} does not exist") from None
        raise UploadError(f"S3 refused a request: {exc}") from None
    except (exceptions.BotoCoreError, OSError) as exc:
        raise UploadError(f"{type(exc).__name__}: {exc}") from None
    return report


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt (main thread only), so an interrupted upload cleans up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
