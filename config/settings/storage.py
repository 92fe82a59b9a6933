"""The object store behind Django's default storage, from LLM_S3_* variables."""

from collections.abc import Callable

from .env import env_str


def s3_storage(get: Callable[[str, str], str] = env_str) -> dict | None:
    """STORAGES["default"] for an S3-compatible store, or None when LLM_S3_BUCKET is unset.

    `get(name, default)` reads a variable (the environment; tests pass their own store's).
    """
    bucket = get("LLM_S3_BUCKET", "")
    if not bucket:
        return None
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": get("LLM_S3_ENDPOINT_URL", "") or None,  # unset: AWS
            # Unset keys: boto3's own chain (instance role, AWS_* variables, ~/.aws).
            "access_key": get("LLM_S3_ACCESS_KEY_ID", "") or None,
            "secret_key": get("LLM_S3_SECRET_ACCESS_KEY", "") or None,
            "region_name": get("LLM_S3_REGION", "") or None,
            "location": get("LLM_S3_PREFIX", ""),  # a folder in a shared bucket
            # Path style works with every S3-compatible server; virtual hosts need DNS.
            "addressing_style": get("LLM_S3_ADDRESSING_STYLE", "") or "path",
            "signature_version": "s3v4",
            "default_acl": None,  # private objects: a web host streams them after its own check
            "file_overwrite": False,  # as FileSystemStorage: a second upload gets a new name
            "max_memory_size": 8 * 1024 * 1024,  # a larger download spills to a temp file
        },
    }
