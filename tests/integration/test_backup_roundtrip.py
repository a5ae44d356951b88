"""Backup dump and restore against a real MongoDB wire-protocol server."""

from __future__ import annotations

import gzip
import hashlib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bson import Binary, Int64, ObjectId, json_util
from pymongo import ASCENDING, MongoClient
from pymongo.errors import DuplicateKeyError

from infra.ops.backup import main

REPO = Path(__file__).resolve().parents[2]
NX_27017 = Path(sys.executable).parent / "nx-27017"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_server(uri: str, log_file: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with MongoClient(uri, serverSelectionTimeoutMS=500) as client:
                client.admin.command("ping")
                return
        except Exception:  # noqa: BLE001 - any failure means "not up yet"
            time.sleep(0.2)
    log = log_file.read_text() if log_file.exists() else "(no log)"
    raise RuntimeError(f"nx-27017 did not answer ping on {uri} within 20 s:\n{log}")


@pytest.fixture(scope="module")
def server_uri(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Use the suite's ``mongodb_uri`` fixture, or start nx-27017 for this module."""
    try:
        yield request.getfixturevalue("mongodb_uri")
        return
    except pytest.FixtureLookupError:
        pass
    data_dir = tmp_path_factory.mktemp("nx27017")
    port = _free_port()
    log_file = data_dir / "log"
    process = subprocess.Popen(  # noqa: S603 - fixed argument list
        [
            str(NX_27017),
            "--data-dir",
            str(data_dir),
            "--host",
            "127.0.0.1",
            "-p",
            str(port),
            "--log-file",
            str(log_file),
            "--pid-file",
            str(data_dir / "pid"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    uri = f"mongodb://127.0.0.1:{port}"
    try:
        _wait_for_server(uri, log_file)
        yield uri
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def client(server_uri: str) -> Iterator[MongoClient]:
    with MongoClient(server_uri, serverSelectionTimeoutMS=3000) as mongo:
        yield mongo


@pytest.fixture
def db_names(client: MongoClient) -> Iterator[tuple[str, str]]:
    source = f"backup_src_{uuid.uuid4().hex[:8]}"
    target = f"backup_dst_{uuid.uuid4().hex[:8]}"
    yield source, target
    client.drop_database(source)
    client.drop_database(target)


PATIENTS = [
    {
        "_id": "pat_" + "a" * 32,
        "vitals": {"age": 71, "heart_rate": 128, "temperature": 38.4, "injury": None},
        "news2": {"total": 9, "risk": "high", "partial": False, "missing": []},
        "risk_sort": 0.812,
        "history": [{"at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC), "field": "status"}],
        "created_at": datetime(2026, 3, 1, 9, 15, 12, 345000, tzinfo=UTC),
        "big": Int64(2**40),
    },
    {
        "_id": "pat_" + "b" * 32,
        "vitals": {"age": 34, "heart_rate": 72, "temperature": 36.8, "injury": True},
        "news2": {"total": 0, "risk": "low", "partial": True, "missing": ["gcs"]},
        "risk_sort": -1.0,
        "history": [],
        "created_at": datetime(2026, 3, 2, 23, 59, 59, tzinfo=UTC),
        "big": Int64(-7),
    },
]
USERS = [
    {"_id": ObjectId(), "email": f"user{i}@example.org", "role": "DOCTOR", "n": i}
    for i in range(2500)
]
AUDIT = [{"_id": ObjectId(), "blob": Binary(bytes(range(256))), "ok": True}]


def _populate(client: MongoClient, name: str) -> None:
    db = client[name]
    db.patients.insert_many(PATIENTS)
    db.users.insert_many(USERS)
    db.users.create_index([("email", ASCENDING)], unique=True)
    # nx-27017 0.8.1 stores every index key as ascending, so only ascending keys here.
    db.users.create_index([("role", ASCENDING), ("n", ASCENDING)])
    db.audit.insert_many(AUDIT)
    db.create_collection("connections")


def _documents(client: MongoClient, db_name: str, collection: str) -> list[dict]:
    return list(client[db_name][collection].find({}, sort=[("_id", 1)]))


def _header(backup: Path) -> dict:
    with gzip.open(backup, "rt", encoding="utf-8") as stream:
        return json_util.loads(stream.readline())


def test_dump_writes_header_and_checksum(
    server_uri: str, client: MongoClient, db_names: tuple[str, str], tmp_path: Path
) -> None:
    source, _ = db_names
    _populate(client, source)
    backup = tmp_path / "triage.jsonl.gz"

    status = main(["dump", "--uri", server_uri, "--db", source, str(backup)])

    assert status == 0
    header = _header(backup)
    assert header["format"] == "triage-mongodb-backup"
    assert header["database"] == source
    counts = {name: item["count"] for name, item in header["collections"].items()}
    assert counts == {"audit": 1, "connections": 0, "patients": 2, "users": 2500}
    assert header["snapshot"] is False
    with gzip.open(backup, "rt", encoding="utf-8") as stream:
        assert sum(1 for _ in stream) == 1 + 2503
    checksum_line = (tmp_path / "triage.jsonl.gz.sha256").read_text()
    expected = hashlib.sha256(backup.read_bytes()).hexdigest()
    assert checksum_line == f"{expected}  triage.jsonl.gz\n"


def test_restore_round_trip_keeps_types(
    server_uri: str, client: MongoClient, db_names: tuple[str, str], tmp_path: Path
) -> None:
    source, target = db_names
    _populate(client, source)
    backup = tmp_path / "triage.jsonl.gz"
    assert main(["dump", "--uri", server_uri, "--db", source, str(backup)]) == 0

    status = main(["restore", "--uri", server_uri, "--db", target, str(backup)])

    assert status == 0
    assert sorted(client[target].list_collection_names()) == [
        "audit",
        "connections",
        "patients",
        "users",
    ]
    for collection in ("patients", "users", "audit", "connections"):
        restored = _documents(client, target, collection)
        assert restored == _documents(client, source, collection), collection
    patient = client[target].patients.find_one({"_id": PATIENTS[0]["_id"]})
    assert patient is not None
    assert patient["big"] == 2**40
    assert patient["created_at"] == datetime(2026, 3, 1, 9, 15, 12, 345000)
    assert patient["vitals"]["temperature"] == 38.4
    audit = client[target].audit.find_one()
    assert audit is not None
    assert bytes(audit["blob"]) == bytes(range(256))


def test_restore_recreates_unique_index(
    server_uri: str, client: MongoClient, db_names: tuple[str, str], tmp_path: Path
) -> None:
    source, target = db_names
    _populate(client, source)
    backup = tmp_path / "triage.jsonl.gz"
    assert main(["dump", "--uri", server_uri, "--db", source, str(backup)]) == 0
    assert main(["restore", "--uri", server_uri, "--db", target, str(backup)]) == 0

    indexes = client[target].users.index_information()
    keys = {tuple(spec["key"]): spec.get("unique", False) for spec in indexes.values()}
    assert keys[(("email", 1),)] is True
    assert keys[(("role", 1), ("n", 1))] is False
    with pytest.raises(DuplicateKeyError):
        client[target].users.insert_one({"email": "user7@example.org"})


def test_restore_rejects_non_empty_database(
    server_uri: str, client: MongoClient, db_names: tuple[str, str], tmp_path: Path
) -> None:
    source, target = db_names
    _populate(client, source)
    backup = tmp_path / "triage.jsonl.gz"
    assert main(["dump", "--uri", server_uri, "--db", source, str(backup)]) == 0
    client[target].patients.insert_one({"_id": "pat_existing"})

    status = main(["restore", "--uri", server_uri, "--db", target, str(backup)])

    assert status == 1
    assert client[target].list_collection_names() == ["patients"]
    assert client[target].patients.count_documents({}) == 1


def test_restore_rejects_changed_file(
    server_uri: str, client: MongoClient, db_names: tuple[str, str], tmp_path: Path
) -> None:
    source, target = db_names
    _populate(client, source)
    backup = tmp_path / "triage.jsonl.gz"
    assert main(["dump", "--uri", server_uri, "--db", source, str(backup)]) == 0
    data = bytearray(backup.read_bytes())
    data[len(data) // 2] ^= 0xFF
    backup.write_bytes(bytes(data))

    status = main(["restore", "--uri", server_uri, "--db", target, str(backup)])

    assert status == 1
    assert client[target].list_collection_names() == []


def test_restore_rejects_missing_checksum(
    server_uri: str, client: MongoClient, db_names: tuple[str, str], tmp_path: Path
) -> None:
    source, target = db_names
    _populate(client, source)
    backup = tmp_path / "triage.jsonl.gz"
    assert main(["dump", "--uri", server_uri, "--db", source, str(backup)]) == 0
    (tmp_path / "triage.jsonl.gz.sha256").unlink()

    status = main(["restore", "--uri", server_uri, "--db", target, str(backup)])

    assert status == 1
    assert client[target].list_collection_names() == []


def test_cli_runs_as_module(
    server_uri: str, client: MongoClient, db_names: tuple[str, str], tmp_path: Path
) -> None:
    source, target = db_names
    _populate(client, source)
    backup = tmp_path / "cli.jsonl.gz"
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    for command, db in (("dump", source), ("restore", target)):
        result = subprocess.run(  # noqa: S603 - fixed argument list
            [
                sys.executable,
                "-m",
                "infra.ops.backup",
                command,
                "--uri",
                server_uri,
                "--db",
                db,
                str(backup),
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
    assert client[target].users.count_documents({}) == 2500
