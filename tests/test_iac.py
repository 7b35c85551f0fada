"""Static checks of the Terraform in infra/terraform, read with python-hcl2.

No terraform binary runs here: these tests pin the properties issue 6 asks of the lab
module (tags, encryption, TLS-only buckets, least-privilege upload role, IMDSv2) in the
parsed HCL. `make iac-check` adds checkov on the same files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TF = ROOT / "infra" / "terraform"
MODULE = TF / "modules" / "roamsim-lab"
ENVS = ("dev", "stage")

TAG_KEYS = {"owner": "var.owner", "env": "var.env", "cost-center": "var.cost_center"}

# Every resource type the module uses is listed in exactly one of these sets, so a new
# type forces a decision about its tags.
TAGGABLE = {
    "aws_instance",
    "aws_iam_role",
    "aws_iam_policy",
    "aws_iam_instance_profile",
    "aws_kms_key",
    "aws_s3_bucket",
    "aws_security_group",
    "aws_vpc_security_group_egress_rule",
}
NOT_TAGGABLE = {
    "aws_kms_alias",
    "aws_iam_role_policy_attachment",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_logging",
    "aws_s3_bucket_notification",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_policy",
}

Block = dict[str, Any]


def _norm(value: Any) -> Any:
    """python-hcl2 output without its markers and with string quotes removed.

    python-hcl2 8 keeps the quotes of string literals ('"aws:kms"') and of block labels
    and marks blocks with __is_block__; older releases did neither. This makes both look
    alike: plain strings, interpolations as "${...}".
    """
    if isinstance(value, dict):
        return {_norm(k): _norm(v) for k, v in value.items() if not (isinstance(k, str) and k.startswith("__"))}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@cache
def _parse(path: Path) -> Block:
    parsed: Block = _norm(hcl2.loads(path.read_text(encoding="utf-8")))
    return parsed


def _parse_dir(folder: Path) -> list[Block]:
    return [_parse(p) for p in sorted(folder.glob("*.tf"))]


def _blocks(folder: Path, kind: str) -> Iterator[tuple[str, str, Block]]:
    """(type, name, body) of every `resource` or `data` block in a folder."""
    for doc in _parse_dir(folder):
        for entry in doc.get(kind, []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    yield rtype, name, body


def _resources(rtype: str | None = None) -> dict[tuple[str, str], Block]:
    return {(t, n): b for t, n, b in _blocks(MODULE, "resource") if rtype is None or t == rtype}


def _policy_docs() -> dict[str, Block]:
    return {n: b for t, n, b in _blocks(MODULE, "data") if t == "aws_iam_policy_document"}


def _variables(folder: Path) -> dict[str, Block]:
    return {
        name: body for doc in _parse_dir(folder) for entry in doc.get("variable", []) for name, body in entry.items()
    }


def _locals(folder: Path) -> Block:
    merged: Block = {}
    for doc in _parse_dir(folder):
        for entry in doc.get("locals", []):
            merged.update(entry)
    return merged


def _one(body: Block, key: str) -> Block:
    """A nested block that appears once (python-hcl2 gives every block as a list)."""
    items = body[key]
    assert isinstance(items, list) and len(items) == 1, f"{key}: expected one block, got {items!r}"
    block: Block = items[0]
    return block


def _ref(expr: str) -> str:
    """'${aws_s3_bucket.runs.id}' -> 'aws_s3_bucket.runs.id'."""
    m = re.fullmatch(r"\$\{(.+)\}", expr)
    return m.group(1) if m else expr


def _bucket_of(body: Block) -> str:
    """Name of the aws_s3_bucket a per-bucket resource configures."""
    m = re.fullmatch(r"aws_s3_bucket\.(\w+)\.(id|bucket)", _ref(body["bucket"]))
    assert m, f"bucket is not an aws_s3_bucket reference: {body['bucket']!r}"
    return m.group(1)


def _per_bucket(rtype: str) -> dict[str, Block]:
    return {_bucket_of(b): b for (_, _), b in _resources(rtype).items()}


def _buckets() -> set[str]:
    return {n for (_, n) in _resources("aws_s3_bucket")}


def _hcl_regex(condition: str) -> re.Pattern[str]:
    """The pattern of `can(regex("...", var.x))` in a validation condition."""
    m = re.search(r'regex\(("(?:[^"\\]|\\.)*")', condition)
    assert m, f"no regex() in {condition!r}"
    pattern: str = json.loads(m.group(1))  # HCL and JSON string escapes agree here
    return re.compile(pattern)


# ---------------------------------------------------------------- parsing


def test_every_tf_file_parses() -> None:
    files = sorted(TF.rglob("*.tf"))
    assert len(files) >= 10
    for f in files:
        assert isinstance(_parse(f), dict), f


# ---------------------------------------------------------------- tags


def test_local_tags_come_from_the_tag_variables() -> None:
    tags = _locals(MODULE)["tags"]
    for key, var in TAG_KEYS.items():
        assert _ref(tags[key]) == var


def test_every_resource_type_is_classified() -> None:
    types = {t for (t, _) in _resources()}
    assert types <= TAGGABLE | NOT_TAGGABLE, types - TAGGABLE - NOT_TAGGABLE
    assert not TAGGABLE & NOT_TAGGABLE


def test_every_taggable_resource_carries_local_tags() -> None:
    tagged = 0
    for (rtype, name), body in _resources().items():
        if rtype not in TAGGABLE:
            continue
        tagged += 1
        attrs = ["tags", "volume_tags"] if rtype == "aws_instance" else ["tags"]
        for attr in attrs:
            expr = body.get(attr)
            assert isinstance(expr, str), f"{rtype}.{name} has no {attr}"
            assert expr == "${local.tags}" or expr.startswith("${merge(local.tags,"), f"{rtype}.{name}.{attr} = {expr}"
    assert tagged >= 8


@pytest.mark.parametrize("folder", [MODULE, *(TF / "envs" / e for e in ENVS)], ids=lambda p: p.name)
def test_tag_variables_are_required_and_validated(folder: Path) -> None:
    variables = _variables(folder)
    names = ["owner", "cost_center"] + (["env"] if folder == MODULE else [])
    for name in names:
        var = variables[name]
        assert "default" not in var, f"{folder.name}: variable {name} must be required"
        assert var.get("validation"), f"{folder.name}: variable {name} has no validation block"


def test_tag_validations_accept_and_reject() -> None:
    variables = _variables(MODULE)
    env_condition = _one(variables["env"], "validation")["condition"]
    for env in ("dev", "stage", "prod"):
        assert f'"{env}"' in env_condition
    cost = _hcl_regex(_one(variables["cost_center"], "validation")["condition"])
    assert cost.search("CC-1234") and cost.search("CC-123456")
    assert not cost.search("cc-1234") and not cost.search("CC-12") and not cost.search("1234")
    owner = _hcl_regex(_one(variables["owner"], "validation")["condition"])
    assert owner.search("roaming-lab") and owner.search("lab.owner@example.org")
    assert not owner.search("") and not owner.search("Has Spaces")


@pytest.mark.parametrize("env", ENVS)
def test_env_roots_tag_through_provider_default_tags_and_module(env: str) -> None:
    folder = TF / "envs" / env
    local = _locals(folder)
    assert local["env"] == env
    assert {k: _ref(v) for k, v in local["tags"].items() if k in TAG_KEYS} == {
        "owner": "var.owner",
        "env": "local.env",
        "cost-center": "var.cost_center",
    }
    provider = next(p["aws"] for doc in _parse_dir(folder) for p in doc.get("provider", []) if "aws" in p)
    default_tags = _one(provider, "default_tags")["tags"]
    assert _ref(default_tags) == "local.tags"
    module = next(m["lab"] for doc in _parse_dir(folder) for m in doc.get("module", []) if "lab" in m)
    assert module["source"] == "../../modules/roamsim-lab"
    assert (folder / module["source"]).resolve() == MODULE
    assert _ref(module["owner"]) == "var.owner" and _ref(module["env"]) == "local.env"
    assert _ref(module["cost_center"]) == "var.cost_center"


@pytest.mark.parametrize("env", ENVS)
def test_env_roots_pin_the_aws_provider(env: str) -> None:
    versions = _parse(TF / "envs" / env / "versions.tf")
    terraform = versions["terraform"][0]
    aws = terraform["required_providers"][0]["aws"]
    assert aws["source"] == "hashicorp/aws"
    assert re.fullmatch(r"=\s*\d+\.\d+\.\d+", aws["version"]), aws["version"]


# ---------------------------------------------------------------- S3


def test_every_bucket_has_its_guard_rails() -> None:
    buckets = _buckets()
    assert buckets == {"runs", "access_logs"}
    for rtype in (
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_versioning",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_lifecycle_configuration",
        "aws_s3_bucket_policy",
        "aws_s3_bucket_ownership_controls",
    ):
        assert set(_per_bucket(rtype)) == buckets, rtype


def test_public_access_block_has_all_four_flags() -> None:
    for bucket, pab in _per_bucket("aws_s3_bucket_public_access_block").items():
        for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
            assert pab[flag] is True, f"{bucket}: {flag}"


def test_versioning_enabled() -> None:
    for bucket, ver in _per_bucket("aws_s3_bucket_versioning").items():
        assert _one(ver, "versioning_configuration")["status"] == "Enabled", bucket


def test_runs_bucket_encrypted_with_rotated_kms_key() -> None:
    sse = _per_bucket("aws_s3_bucket_server_side_encryption_configuration")["runs"]
    rule = _one(sse, "rule")
    default = _one(rule, "apply_server_side_encryption_by_default")
    assert default["sse_algorithm"] == "aws:kms"
    key = re.fullmatch(r"aws_kms_key\.(\w+)\.arn", _ref(default["kms_master_key_id"]))
    assert key
    kms = _resources("aws_kms_key")[("aws_kms_key", key.group(1))]
    assert kms["enable_key_rotation"] is True
    assert "policy" in kms


def test_access_log_bucket_is_the_only_non_kms_bucket_and_says_why() -> None:
    # S3 server access logs can only be delivered to an SSE-S3 bucket.
    logging = _per_bucket("aws_s3_bucket_logging")
    assert set(logging) == {"runs"}
    assert _ref(logging["runs"]["target_bucket"]) == "aws_s3_bucket.access_logs.id"
    default = _one(
        _one(_per_bucket("aws_s3_bucket_server_side_encryption_configuration")["access_logs"], "rule"),
        "apply_server_side_encryption_by_default",
    )
    assert default["sse_algorithm"] == "AES256"
    assert "#checkov:skip=CKV_AWS_145:" in (MODULE / "s3.tf").read_text(encoding="utf-8")


def test_bucket_policies_deny_insecure_transport() -> None:
    docs = _policy_docs()
    for bucket, pol in _per_bucket("aws_s3_bucket_policy").items():
        doc_name = re.fullmatch(r"data\.aws_iam_policy_document\.(\w+)\.json", _ref(pol["policy"]))
        assert doc_name, bucket
        statements = docs[doc_name.group(1)]["statement"]
        denies = [
            s
            for s in statements
            if s["effect"] == "Deny"
            and any(
                c["test"] == "Bool" and c["variable"] == "aws:SecureTransport" and c["values"] == ["false"]
                for c in s.get("condition", [])
            )
        ]
        assert len(denies) == 1, bucket
        deny = denies[0]
        assert deny["actions"] == ["s3:*"]
        assert {"type": "*", "identifiers": ["*"]} in deny["principals"]
        arn = f"${{aws_s3_bucket.{bucket}.arn}}"
        assert set(deny["resources"]) == {arn, f"{arn}/*"}, bucket


def test_lifecycle_transitions_and_expires() -> None:
    for bucket, lc in _per_bucket("aws_s3_bucket_lifecycle_configuration").items():
        rule = _one(lc, "rule")
        assert rule["status"] == "Enabled"
        classes = [t["storage_class"] for t in rule["transition"]]
        assert classes == ["STANDARD_IA", "GLACIER"], bucket
        assert "days" in _one(rule, "expiration"), bucket
        assert "noncurrent_days" in _one(rule, "noncurrent_version_expiration"), bucket
        assert "days_after_initiation" in _one(rule, "abort_incomplete_multipart_upload"), bucket


# ---------------------------------------------------------------- IAM


def _attached_policy_docs() -> list[Block]:
    """Policy documents of the policies attached to the lab role."""
    docs = _policy_docs()
    attached = []
    for body in _resources("aws_iam_role_policy_attachment").values():
        assert _ref(body["role"]) == "aws_iam_role.lab.name"
        pol = re.fullmatch(r"aws_iam_policy\.(\w+)\.arn", _ref(body["policy_arn"]))
        assert pol, "only the module's own policies may be attached"
        policy = _resources("aws_iam_policy")[("aws_iam_policy", pol.group(1))]
        doc = re.fullmatch(r"data\.aws_iam_policy_document\.(\w+)\.json", _ref(policy["policy"]))
        assert doc
        attached.append(docs[doc.group(1)])
    assert attached
    return attached


# What `roamsim upload` does under its prefix: put objects (multipart included), HEAD them
# to resume and verify (s3:GetObject), delete a stale manifest or a bad object.
PREFIX_ACTIONS = {
    "s3:PutObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
    "s3:GetObject",
    "s3:DeleteObject",
}


def test_role_writes_only_under_its_prefix() -> None:
    assert not _resources("aws_iam_role_policy"), "no inline policies beside the attached one"
    prefix_objects = "${aws_s3_bucket.runs.arn}/${var.runs_prefix}/*"
    s3_actions: set[str] = set()
    for doc in _attached_policy_docs():
        for st in doc["statement"]:
            assert st["effect"] == "Allow"
            actions = set(st["actions"])
            assert "*" not in st["resources"]
            assert not any(a == "*" or a.endswith(":*") for a in actions), actions
            s3 = {a for a in actions if a.startswith("s3:")}
            s3_actions |= s3
            if s3 - {"s3:ListBucket"}:
                assert s3 <= PREFIX_ACTIONS, s3
                assert st["resources"] == [prefix_objects]
            if "s3:ListBucket" in s3:
                assert actions == {"s3:ListBucket"}
                assert st["resources"] == ["${aws_s3_bucket.runs.arn}"]
                cond = _one(st, "condition")
                assert cond["variable"] == "s3:prefix"
                assert cond["values"] == ["${var.runs_prefix}/", "${var.runs_prefix}/*"]
            if any(a.startswith("kms:") for a in actions):
                assert actions <= {"kms:GenerateDataKey", "kms:Decrypt"}
                assert st["resources"] == ["${aws_kms_key.runs.arn}"]
    assert s3_actions == PREFIX_ACTIONS | {"s3:ListBucket"}


def test_instance_profile_uses_the_lab_role() -> None:
    profile = _resources("aws_iam_instance_profile")[("aws_iam_instance_profile", "lab")]
    assert _ref(profile["role"]) == "aws_iam_role.lab.name"


# ---------------------------------------------------------------- EC2


def test_lab_vms_are_hardened() -> None:
    vm = _resources("aws_instance")[("aws_instance", "lab")]
    assert _ref(vm["count"]) == "var.instance_count"
    assert _ref(vm["instance_type"]) == "var.instance_type"
    meta = _one(vm, "metadata_options")
    assert meta["http_tokens"] == "required"
    assert meta["http_put_response_hop_limit"] == 1
    assert _one(vm, "root_block_device")["encrypted"] is True
    assert vm["ebs_optimized"] is True and vm["monitoring"] is True
    assert _ref(vm["iam_instance_profile"]) == "aws_iam_instance_profile.lab.name"
    assert _ref(vm["associate_public_ip_address"]) == "var.associate_public_ip"
    assert _variables(MODULE)["associate_public_ip"]["default"] is False


def test_user_data_starts_the_container_from_a_template() -> None:
    locals_ = _locals(MODULE)
    assert _ref(_resources("aws_instance")[("aws_instance", "lab")]["user_data"]) == "local.user_data"
    m = re.match(r'\$\{templatefile\("\$\{path\.module\}/([^"]+)"', locals_["user_data"])
    assert m, locals_["user_data"]
    template = (MODULE / m.group(1)).read_text(encoding="utf-8")
    assert template.startswith("#cloud-config")
    assert "podman pull ${container_image}" in template
    assert re.search(r"podman run .*\$\{container_image\} run /etc/roamsim/scenario\.yaml", template)
    assert "--upload ${upload_url}/" in template
    assert not re.search(r"(?i)aws_secret_access_key|aws_access_key_id", template)
    # With the interpolations filled in, it is a cloud-config YAML document.
    rendered = re.sub(r"\$\{[^}]*\}", "X", template)
    doc = yaml.safe_load(rendered)
    assert {"packages", "write_files", "runcmd"} <= set(doc)
    assert "podman" in doc["packages"]
    unit = next(f for f in doc["write_files"] if f["path"].endswith("roamsim-lab.service"))
    assert "ExecStart=" in unit["content"]


# ---------------------------------------------------------------- checkov skips


def test_checkov_skips_give_a_reason() -> None:
    skips = [
        line.strip()
        for f in sorted(TF.rglob("*.tf"))
        for line in f.read_text(encoding="utf-8").splitlines()
        if "checkov:skip" in line
    ]
    assert skips
    for line in skips:
        assert re.fullmatch(r"#checkov:skip=CKV2?_AWS_\d+:\S.{20,}", line), line
