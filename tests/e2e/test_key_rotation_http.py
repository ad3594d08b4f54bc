"""`lucid-sessions keys rotate` beside a running server, on every stack (with the key files,
and with the master keys in a token on the token stack): chunks sealed before the rotation
still open after it, every data key is re-wrapped under the new master key, new sessions use
it, and the running server follows without a restart."""

from __future__ import annotations

import os
import re

import pytest

from tests.e2e.http import BASE
from tests.e2e.test_chunks_http import download, recording, upload, wait_status
from tests.servers import ServiceProcess

pytestmark = pytest.mark.e2e

BEFORE = [os.urandom(2000) + b"screen " * 3000 for _ in range(3)]
AFTER = [b"after the rotation " * 900, os.urandom(4096)]
ROTATED = r"master key k(\d+) is current; re-wrapped (\d+) data keys"


def test_a_rotation_rewraps_every_data_key_and_loses_nothing(own_server: ServiceProcess) -> None:
    with own_server.client() as http:
        done_before = recording(http, name="sealed before, completed")
        for seq, data in enumerate(BEFORE):
            upload(http, done_before, seq, data)
        assert http.post(f"{BASE}/{done_before}/stop").status_code == 200
        wait_status(http, done_before, {"completed"})
        growing = recording(http, name="sealed before, still recording")
        upload(http, growing, 0, BEFORE[0])

        rotated = own_server.run_cli("keys", "rotate")
        assert rotated.returncode == 0, rotated.stderr
        found = re.match(ROTATED, rotated.stdout)
        assert found, rotated.stdout
        assert int(found[1]) >= 2
        assert int(found[2]) >= 2  # at least this module's two sessions (its own server)

        # What was sealed before opens after; the growing session goes on under the new key.
        for seq, data in enumerate(BEFORE):
            answer = download(http, done_before, seq)
            assert answer.status_code == 200
            assert answer.content == data
        for seq, data in enumerate(AFTER, start=1):
            upload(http, growing, seq, data)
        assert http.post(f"{BASE}/{growing}/stop").status_code == 200
        wait_status(http, growing, {"completed"})
        recorded = http.get(f"{BASE}/{growing}/recording")
        assert recorded.status_code == 200
        assert recorded.content == BEFORE[0] + b"".join(AFTER)
        fresh = recording(http, name="after the rotation")
        upload(http, fresh, 0, AFTER[0])
        assert download(http, fresh, 0).content == AFTER[0]

    verified = own_server.run_cli("verify", done_before)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    again = own_server.run_cli("keys", "rotate")
    assert again.returncode == 0, again.stderr
    second = re.match(ROTATED, again.stdout)
    assert second, again.stdout
    assert int(second[1]) == int(found[1]) + 1
    assert int(second[2]) >= 3  # the three sessions made here, all under the previous key
