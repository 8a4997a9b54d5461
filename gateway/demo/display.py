"""The demo's live progress view (rich)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


@dataclass
class Progress:
    """Counters the demo shows; filled by the traffic driver and the peers' record."""

    sent: dict[str, int] = field(default_factory=dict)
    duplicates_sent: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    orders_issued: int = 0
    peers: dict[str, Any] = field(default_factory=dict)
    processes: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)
        del self.notes[:-8]


def render(progress: Progress, board_url: str) -> Group:
    inbound = Table(title="citizens → gateway", expand=True)
    inbound.add_column("channel")
    inbound.add_column("sent", justify="right")
    for channel, count in sorted(progress.sent.items()):
        inbound.add_row(channel, str(count))
    inbound.add_row("peer retries (dup)", str(progress.duplicates_sent), style="dim")

    outbound = Table(title="gateway → centres (as they saw it)", expand=True)
    outbound.add_column("destination")
    outbound.add_column("delivered", justify="right")
    outbound.add_column("duplicates", justify="right")
    deliveries = progress.peers.get("deliveries", {})
    duplicates = progress.peers.get("duplicates", {})
    for dest in ("command-centre", "12345", "maritime-sar", "ocean-fishery"):
        dup = duplicates.get(dest, 0)
        outbound.add_row(
            dest, str(deliveries.get(dest, 0)), Text(str(dup), "red" if dup else "green")
        )

    for kind, count in sorted(progress.peers.get("other_posts", {}).items()):
        outbound.add_row(f"  {kind}", str(count), "", style="cyan")

    units = Table(title="orders ↔ unit liaisons", expand=True)
    units.add_column("step")
    units.add_column("count", justify="right")
    replies = progress.peers.get("replies_sent", {})
    units.add_row("orders issued by the centre", str(progress.orders_issued))
    units.add_row("order SMS sent (Twilio)", str(progress.peers.get("sms_sent", 0)))
    units.add_row("WeCom group posts", str(progress.peers.get("wecom_posts", 0)))
    for kind in ("acknowledged", "arrived", "completed"):
        units.add_row(f"liaison replied: {kind}", str(replies.get(kind, 0)))

    procs = Text(
        "  ".join(
            f"{name}:{'up' if ok else 'DOWN'}" for name, ok in sorted(progress.processes.items())
        )
    )
    grid = Table.grid(expand=True)
    grid.add_row(inbound, outbound, units)
    notes = Text("\n".join(progress.notes) or "…", style="dim")
    return Group(
        Panel(procs, title="Linkage Gateway demo — processes", subtitle=f"board: {board_url}"),
        grid,
        Panel(notes, title="latest"),
    )
