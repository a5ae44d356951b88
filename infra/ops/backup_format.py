"""File format of a backup: gzip JSON Lines in MongoDB Extended JSON, and its checksum.

Line 1 is the header (``BackupHeader``), every further line is one document:
``{"collection": <name>, "document": <document>}``. Both use canonical Extended JSON
(``bson.json_util``), so int32/int64, dates, ObjectIds and binary survive the round
trip exactly. The checksum file sits next to the backup as ``<backup>.sha256`` in the
``sha256sum`` format, so ``sha256sum -c`` verifies it too.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from bson import json_util
from bson.json_util import CANONICAL_JSON_OPTIONS
from pydantic import BaseModel, Field

FORMAT_NAME = "triage-mongodb-backup"
FORMAT_VERSION = 1
_CHUNK_BYTES = 1 << 20


class BackupError(RuntimeError):
    """A dump or restore failed. The message names the file or database and the fix."""


class CollectionHeader(BaseModel):
    """Document count, options and indexes of one dumped collection."""

    count: int = Field(ge=0, description="documents written for this collection")
    options: dict[str, Any] = Field(default_factory=dict)
    indexes: list[dict[str, Any]] = Field(
        default_factory=list, description="listIndexes entries except _id_"
    )


class BackupHeader(BaseModel):
    """First line of a backup file."""

    format: Literal["triage-mongodb-backup"] = FORMAT_NAME
    version: Literal[1] = FORMAT_VERSION
    database: str
    created_at: datetime
    snapshot: bool = Field(
        description="true when all collections were read at one point in time"
    )
    collections: dict[str, CollectionHeader]

    @property
    def total_documents(self) -> int:
        """Number of document lines that follow the header."""
        return sum(item.count for item in self.collections.values())


def encode_line(value: dict[str, Any]) -> str:
    """Serialise one header or document line as canonical Extended JSON."""
    return json_util.dumps(value, json_options=CANONICAL_JSON_OPTIONS) + "\n"


def decode_line(line: str) -> dict[str, Any]:
    """Parse one line written by ``encode_line``, raising ``BackupError`` if invalid."""
    try:
        value = json_util.loads(line, json_options=CANONICAL_JSON_OPTIONS)
    except ValueError as exc:
        raise BackupError(f"backup line is not valid Extended JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise BackupError("backup line is not a JSON object")
    return value


def checksum_path(backup: Path) -> Path:
    """Return where the checksum of ``backup`` is stored."""
    return backup.with_name(backup.name + ".sha256")


def sha256_of(path: Path) -> str:
    """Return the hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def write_checksum(backup: Path) -> str:
    """Write ``<backup>.sha256`` and return the digest."""
    digest = sha256_of(backup)
    checksum_path(backup).write_text(f"{digest}  {backup.name}\n", encoding="utf-8")
    return digest


def verify_checksum(backup: Path) -> str:
    """Check a backup against its ``.sha256`` file; raise ``BackupError`` if unequal."""
    expected_file = checksum_path(backup)
    if not expected_file.is_file():
        raise BackupError(
            f"checksum file {expected_file} is missing. Restore only a backup "
            "that still has the .sha256 file written by the dump"
        )
    fields = expected_file.read_text(encoding="utf-8").split()
    if not fields or len(fields[0]) != 64:
        raise BackupError(f"checksum file {expected_file} is not in sha256sum format")
    actual = sha256_of(backup)
    if actual != fields[0].lower():
        raise BackupError(
            f"checksum mismatch for {backup}: expected {fields[0]}, got {actual}. "
            "The file is damaged or was changed after the dump"
        )
    return actual
