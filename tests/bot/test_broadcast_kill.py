"""kill -9 in the middle of a broadcast: `langnghe-bot serve` (a real process) is killed with
SIGKILL halfway and started again; the broadcast resumes and nobody gets it twice."""

from __future__ import annotations

from pathlib import Path

from benchmarks.broadcast import bench


async def test_kill_9_mid_broadcast_resumes_without_duplicates(db_url: str, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    result = await bench(db_url, 120, kill=True, log=log, lease=2.0)
    rows = result["rows"]
    assert result["killed_after"] >= 60, log.read_text()
    assert result["duplicates"] == 0, log.read_text()
    assert result["rate_limited"] == 0
    # Every row is done: sent, or "interrupted" if it was in flight at the kill (not resent,
    # since it may have arrived); whoever got nothing is one of those.
    assert set(rows) <= {"sent", "interrupted"}
    assert sum(rows.values()) == 120
    assert result["got_nothing"] <= rows.get("interrupted", 0) <= 2
    assert result["report"].startswith("Thông báo #1 đã gửi xong (120 người nhận):")
    assert f"• Đã gửi tới: {rows['sent']}" in result["report"]
