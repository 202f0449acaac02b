"""SIGKILL a process writing providers, again and again: every acknowledged write survives."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

from gateway.providers.store import COLLECTION
from gateway.storage.crypto import Cipher
from gateway.storage.file import read_documents

ROUNDS = 6
KEY = "sk-crash-test-provider-key-0001"

WRITER = """
import asyncio, sys
from pathlib import Path
from gateway.providers.records import ProviderRecord
from gateway.providers.store import ProviderStore
from gateway.storage.crypto import Cipher
from gateway.storage.file import FileStorage

async def main() -> None:
    storage = FileStorage(Path(sys.argv[1]))
    store = ProviderStore(storage.collection("providers"), Cipher([sys.argv[2]], "test"))
    await storage.open()
    n = 0
    while True:
        record = ProviderRecord(
            id=f"{sys.argv[3]}-{n}", name="crash", template="openai",
            base_url="https://api.openai.com/v1", created_at=1, updated_at=1,
        )
        await store.create(record, sys.argv[4])
        print(record.id, flush=True)  # acknowledged: create() returned
        n += 1

asyncio.run(main())
"""


def test_sigkill_loop_loses_no_acknowledged_write(tmp_path: Path) -> None:
    data = tmp_path / "data"
    master = Fernet.generate_key().decode()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    acknowledged: set[str] = set()
    rng = random.Random(7)
    for round_no in range(ROUNDS):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(data), master, f"r{round_no}", KEY],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        wanted = rng.randint(2, 25)
        deadline = time.monotonic() + 20
        for _ in range(wanted):
            line = writer.stdout.readline()
            assert line, "writer died early"
            acknowledged.add(line.strip())
            assert time.monotonic() < deadline
        time.sleep(rng.random() * 0.01)  # land somewhere inside the next write
        writer.send_signal(signal.SIGKILL)
        acknowledged.update(line.strip() for line in writer.stdout if line.strip())
        writer.wait(timeout=10)
        assert writer.returncode == -signal.SIGKILL

    documents = read_documents(data / f"{COLLECTION}.json")  # parses: never half-written
    assert acknowledged <= set(documents)
    assert len(acknowledged) >= ROUNDS * 2

    cipher = Cipher([master], "test")
    assert all(cipher.decrypt(doc["api_key_encrypted"]) == KEY for doc in documents.values())
    assert KEY.encode() not in (data / f"{COLLECTION}.json").read_bytes()
