"""Push a run's final metrics to a Prometheus Pushgateway (for batch runs no one scrapes).

``PUT <url>/metrics/job/roamsim/run_id/<run id>`` with the text format 0.0.4
body, no timestamps (https://github.com/prometheus/pushgateway#api): PUT
replaces every metric of that group, so pushing a run twice leaves one copy.
A label value holding ``/`` goes base64url-encoded (``run_id@base64/...``).
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable

from roamsim.metrics.exposition import CONTENT_TYPE_TEXT, encode_text
from roamsim.metrics.snapshot import FamilySnapshot

JOB = "roamsim"


class PushError(RuntimeError):
    """The Pushgateway could not be reached or refused the metrics."""


def check_url(url: str) -> str:
    """The Pushgateway base URL without a trailing slash; ``ValueError`` naming the URL when it is not http(s)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--pushgateway {url!r}: expected http(s)://HOST[:PORT][/PATH]")
    try:
        _ = parts.port
    except ValueError as exc:
        raise ValueError(f"--pushgateway {url!r}: {exc}") from None
    if parts.query or parts.fragment:
        raise ValueError(f"--pushgateway {url!r}: no query or fragment, please")
    return url.rstrip("/")


def group_path(job: str, grouping: dict[str, str]) -> str:
    """``/metrics/job/<job>/<label>/<value>...`` with each value URL-quoted (base64url when it holds ``/``)."""
    parts = ["metrics", "job", urllib.parse.quote(job, safe="")]
    for name, value in grouping.items():
        if "/" in value or not value:
            enc = base64.urlsafe_b64encode(value.encode()).decode() or "="
            parts += [f"{name}@base64", enc]
        else:
            parts += [name, urllib.parse.quote(value, safe="")]
    return "/" + "/".join(parts)


def push(families: Iterable[FamilySnapshot], url: str, run_id: str, *, job: str = JOB, timeout: float = 10.0) -> str:
    """PUT ``families`` to the Pushgateway at ``url`` under job ``job`` and grouping key ``run_id``.

    Returns the URL pushed to; raises :class:`PushError` with the reason when it fails.
    """
    target = check_url(url) + group_path(job, {"run_id": run_id})
    body = encode_text(families, timestamps=False).encode()
    req = urllib.request.Request(target, data=body, method="PUT",  # noqa: S310 (scheme checked above)
                                 headers={"Content-Type": CONTENT_TYPE_TEXT})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (scheme checked above)
            resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace").strip()
        raise PushError(f"the Pushgateway at {url} refused the metrics: HTTP {exc.code} {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PushError(f"cannot reach the Pushgateway at {url}: {reason}") from None
    return target
