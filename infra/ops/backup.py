"""Dump a MongoDB database to a checksummed file and restore it into an empty one.

Usage::

    python -m infra.ops.backup dump --uri URI --db triage OUT.jsonl.gz
    python -m infra.ops.backup restore --uri URI --db triage IN.jsonl.gz

``--uri`` defaults to ``MONGODB_URI``. The dump reads every collection (views and
``system.*`` excluded) inside one snapshot session when the server is a replica set
or a sharded cluster (Atlas always is), so all collections come from the same point in
time. A standalone server has no snapshot reads, so the dump is consistent there only
while nothing writes. The header records which case applied. Restore verifies the
SHA-256 file first and rejects any database that already has a collection.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pymongo import IndexModel, MongoClient
from pymongo.client_session import ClientSession
from pymongo.database import Database
from pymongo.errors import PyMongoError
from rich.console import Console
from rich.progress import Progress

from infra.ops.backup_format import (
    BackupError,
    BackupHeader,
    CollectionHeader,
    checksum_path,
    decode_line,
    encode_line,
    verify_checksum,
    write_checksum,
)

logger = logging.getLogger(__name__)

INSERT_BATCH_SIZE = 1000
# listIndexes fields that describe the index entry itself, not options to recreate.
_INDEX_FIELDS_NOT_OPTIONS = {"v", "key", "ns"}


def _supports_snapshot(client: MongoClient) -> bool:
    hello = client.admin.command("hello")
    return bool(hello.get("setName")) or hello.get("msg") == "isdbgrid"


@contextlib.contextmanager
def _read_session(client: MongoClient, snapshot: bool) -> Iterator[ClientSession]:
    # NOTE: snapshot reads keep history for minSnapshotHistoryWindowInSeconds
    # (300 s by default), so a dump that runs longer fails with SnapshotTooOld.
    with client.start_session(snapshot=snapshot) as session:
        yield session


def _collection_names(db: Database, session: ClientSession) -> list[str]:
    specs = db.list_collections(session=session, filter={"type": "collection"})
    return sorted(
        spec["name"] for spec in specs if not spec["name"].startswith("system.")
    )


def _collection_header(
    db: Database, name: str, session: ClientSession
) -> CollectionHeader:
    spec = next(iter(db.list_collections(session=session, filter={"name": name})))
    indexes = [
        dict(index)
        for index in db[name].list_indexes(session=session)
        if index["name"] != "_id_"
    ]
    return CollectionHeader(
        count=0, options=dict(spec.get("options", {})), indexes=indexes
    )


def _dump_body(
    db: Database,
    session: ClientSession,
    body: IO[str],
    console: Console,
) -> dict[str, CollectionHeader]:
    names = _collection_names(db, session)
    collections: dict[str, CollectionHeader] = {}
    with Progress(console=console, transient=False) as progress:
        for name in names:
            header = _collection_header(db, name, session)
            task = progress.add_task(
                f"dump {name}", total=db[name].estimated_document_count()
            )
            for document in db[name].find({}, session=session, sort=[("_id", 1)]):
                body.write(encode_line({"collection": name, "document": document}))
                header.count += 1
                progress.advance(task)
            progress.update(task, total=header.count, completed=header.count)
            collections[name] = header
            logger.info("dumped collection %s: %d documents", name, header.count)
    return collections


def dump(
    client: MongoClient, db_name: str, out: Path, console: Console
) -> BackupHeader:
    """Write every collection of ``db_name`` to ``out`` and ``out.sha256``.

    The file is first written under a temporary name and renamed at the end, so a
    failed dump never leaves a file that looks complete.
    """
    snapshot = _supports_snapshot(client)
    if not snapshot:
        logger.warning(
            "server is standalone: no snapshot reads, so the dump of %s is "
            "consistent only while nothing writes to it",
            db_name,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    created_at = datetime.now(UTC)
    db = client[db_name]
    with tempfile.TemporaryFile("w+", encoding="utf-8", dir=out.parent) as body:
        with _read_session(client, snapshot) as session:
            collections = _dump_body(db, session, body, console)
        header = BackupHeader(
            database=db_name,
            created_at=created_at,
            snapshot=snapshot,
            collections=collections,
        )
        partial = out.with_name(out.name + ".partial")
        body.seek(0)
        with gzip.open(partial, "wt", encoding="utf-8") as stream:
            stream.write(encode_line(header.model_dump(mode="python")))
            for line in body:
                stream.write(line)
    os.replace(partial, out)
    digest = write_checksum(out)
    logger.info(
        "dump of %s finished: %d collections, %d documents, sha256 %s",
        db_name,
        len(collections),
        header.total_documents,
        digest,
    )
    return header


def read_header(backup: Path) -> BackupHeader:
    """Read and validate the first line of a backup file."""
    with gzip.open(backup, "rt", encoding="utf-8") as stream:
        first = stream.readline()
    if not first:
        raise BackupError(f"{backup} is empty and has no header line")
    try:
        return BackupHeader.model_validate(decode_line(first))
    except ValueError as exc:
        raise BackupError(f"{backup} has an invalid header: {exc}") from exc


def _iter_documents(backup: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with gzip.open(backup, "rt", encoding="utf-8") as stream:
        stream.readline()
        for number, line in enumerate(stream, start=2):
            item = decode_line(line)
            name = item.get("collection")
            document = item.get("document")
            if not isinstance(name, str) or not isinstance(document, dict):
                raise BackupError(
                    f"{backup} line {number} lacks 'collection' or 'document'"
                )
            yield name, document


def _ensure_empty(db: Database) -> None:
    existing = sorted(db.list_collection_names())
    if existing:
        raise BackupError(
            f"database {db.name!r} is not empty (collections: {', '.join(existing)}). "
            "Restore only into an empty database, or choose another --db"
        )


def _create_collections(db: Database, header: BackupHeader) -> None:
    for name, spec in header.collections.items():
        db.create_collection(name, **spec.options)


def _create_indexes(db: Database, header: BackupHeader) -> None:
    for name, spec in header.collections.items():
        models = [
            IndexModel(
                list(index["key"].items()),
                **{
                    key: value
                    for key, value in index.items()
                    if key not in _INDEX_FIELDS_NOT_OPTIONS
                },
            )
            for index in spec.indexes
        ]
        if models:
            db[name].create_indexes(models)


def _insert_documents(
    db: Database, backup: Path, header: BackupHeader, console: Console
) -> dict[str, int]:
    inserted = dict.fromkeys(header.collections, 0)
    batches: dict[str, list[dict[str, Any]]] = {name: [] for name in header.collections}

    def flush(name: str) -> None:
        if batches[name]:
            db[name].insert_many(batches[name], ordered=True)
            inserted[name] += len(batches[name])
            batches[name] = []

    with Progress(console=console) as progress:
        task = progress.add_task("restore", total=header.total_documents)
        for name, document in _iter_documents(backup):
            if name not in batches:
                raise BackupError(
                    f"{backup} has a document for collection {name!r}, "
                    "which its header does not list"
                )
            batches[name].append(document)
            if len(batches[name]) >= INSERT_BATCH_SIZE:
                flush(name)
            progress.advance(task)
        for name in batches:
            flush(name)
    return inserted


def restore(
    client: MongoClient, db_name: str, backup: Path, console: Console
) -> BackupHeader:
    """Load ``backup`` into the empty database ``db_name``.

    Raises ``BackupError`` before writing anything when the checksum differs, the
    header is invalid or the database has collections. Raises it after writing when
    the restored counts differ from the header, so drop the database before retrying.
    """
    digest = verify_checksum(backup)
    logger.info("checksum of %s verified: sha256 %s", backup.name, digest)
    header = read_header(backup)
    db = client[db_name]
    _ensure_empty(db)
    _create_collections(db, header)
    inserted = _insert_documents(db, backup, header, console)
    _create_indexes(db, header)
    for name, spec in header.collections.items():
        if inserted[name] != spec.count:
            raise BackupError(
                f"collection {name!r}: expected {spec.count} documents from the header "
                f"but restored {inserted[name]}. Drop database {db_name!r} and retry"
            )
    logger.info(
        "restore into %s finished: %d collections, %d documents",
        db_name,
        len(header.collections),
        header.total_documents,
    )
    return header


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m infra.ops.backup", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text, file_help in (
        ("dump", "write a backup file", "output file, e.g. triage.jsonl.gz"),
        ("restore", "load a backup into an empty database", "backup file to load"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument(
            "--uri",
            default=os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017"),
            help="MongoDB connection string (default: $MONGODB_URI)",
        )
        command.add_argument("--db", required=True, help="database name")
        command.add_argument("file", type=Path, help=file_help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status (0 ok, 1 failed)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    console = Console(stderr=True)
    client: MongoClient = MongoClient(args.uri, serverSelectionTimeoutMS=5000)
    try:
        if args.command == "dump":
            header = dump(client, args.db, args.file, console)
            console.print(
                f"wrote {args.file} ({header.total_documents} documents) and "
                f"{checksum_path(args.file).name}"
            )
        else:
            header = restore(client, args.db, args.file, console)
            console.print(f"restored {header.total_documents} documents into {args.db}")
    except (BackupError, PyMongoError, OSError) as exc:
        logger.error("%s failed: %s", args.command, exc)
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
