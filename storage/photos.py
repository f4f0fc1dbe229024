"""Photo bytes in a private S3 bucket under random keys; presigned URLs for outside readers."""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import certifi
import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

PRESIGNED_URL_LIFETIME = timedelta(minutes=10)
KEY_PREFIX = "photos/"


def _client(endpoint: str, access_key: str, secret_key: str, region: str) -> Minio:
    parts = urlsplit(endpoint)
    return Minio(
        parts.netloc,
        access_key=access_key,
        secret_key=secret_key,
        secure=parts.scheme == "https",
        region=region,
        http_client=_http_client(),
    )


# minio's own client waits 300 s for a reply and tries 5 times: a stalled endpoint would
# hold the profile actor (and its share of all users) for half an hour. A photo is at most
# a few megabytes; these fail a stalled call within seconds, and the session waits out the
# fault and tries the work again (actors.faults).
S3_CONNECT_TIMEOUT_SECONDS = 3.0
S3_READ_TIMEOUT_SECONDS = 10.0
S3_RETRIES = 1


def _http_client() -> urllib3.PoolManager:
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=S3_CONNECT_TIMEOUT_SECONDS, read=S3_READ_TIMEOUT_SECONDS),
        maxsize=10,
        cert_reqs="CERT_REQUIRED",
        ca_certs=certifi.where(),
        retries=urllib3.Retry(
            total=S3_RETRIES, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)
        ),
    )


class PhotoStore:
    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        region: str = "us-east-1",
    ) -> None:
        self._client = _client(endpoint, access_key, secret_key, region)
        self.bucket = bucket

    def ensure_bucket(self) -> None:
        """Create the bucket if missing and make sure no policy opens it to the public."""
        if not self._client.bucket_exists(self.bucket):
            try:
                self._client.make_bucket(self.bucket)
            except S3Error as error:  # another node created it a moment ago
                if error.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
        try:
            policy = json.loads(self._client.get_bucket_policy(self.bucket))
        except S3Error as error:
            if error.code != "NoSuchBucketPolicy":
                raise
            return
        if policy.get("Statement"):
            self._client.delete_bucket_policy(self.bucket)

    def put(self, data: bytes, content_type: str) -> str:
        """Store bytes under a fresh random key (it reveals nothing about the owner)."""
        key = f"{KEY_PREFIX}{secrets.token_urlsafe(24)}"
        self._client.put_object(
            self.bucket, key, io.BytesIO(data), len(data), content_type=content_type
        )
        return key

    def get(self, key: str) -> bytes:
        response = self._client.get_object(self.bucket, key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def exists(self, key: str) -> bool:
        try:
            self._client.stat_object(self.bucket, key)
        except S3Error as error:
            if error.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return False
            raise
        return True

    def delete(self, keys: Iterable[str]) -> None:
        objects = [DeleteObject(key) for key in keys]
        if not objects:
            return
        errors = list(self._client.remove_objects(self.bucket, objects))
        if errors:
            raise RuntimeError(f"could not delete {len(errors)} photo objects: {errors[0]}")

    def keys(self, older_than: datetime | None = None) -> Iterator[str]:
        """Every photo key, or those last written before older_than."""
        for item in self._client.list_objects(self.bucket, prefix=KEY_PREFIX, recursive=True):
            if item.object_name and (
                older_than is None or item.last_modified is None or item.last_modified < older_than
            ):
                yield item.object_name

    def presigned_url(self, key: str, lifetime: timedelta = PRESIGNED_URL_LIFETIME) -> str:
        return str(self._client.presigned_get_object(self.bucket, key, expires=lifetime))

    def ping(self) -> None:
        self._client.bucket_exists(self.bucket)
