"""The samples' tour (samples/tour.json) as data: concepts, explanations, requests.

Shared by ``ngx-explore tour`` and the explorer's tour picker; no Textual here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .history import HistoryEntry

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@dataclass(frozen=True)
class Concept:
    number: int
    title: str
    explanation: str
    requests: list[HistoryEntry]


def load_tour(path: Path | None = None) -> list[Concept]:
    """The tour's concepts; an empty list when the samples are not there."""
    try:
        data = json.loads((path or SAMPLES / "tour.json").read_text())
    except (OSError, ValueError):
        return []
    concepts = []
    for s in data.get("samples", []):
        # requests that only a real socket can answer (414, 400 for oversized heads)
        # are left to curl: the composer sends in-process
        entries = [HistoryEntry(r["method"], r["url"],
                                "\n".join(f"{k}: {v}" for k, v in r.get("headers", [])),
                                r.get("body", ""))
                   for r in s.get("requests", []) if not r.get("socket_only")]
        concepts.append(Concept(int(s["concept"]), s["title"], s["explanation"], entries))
    return concepts
