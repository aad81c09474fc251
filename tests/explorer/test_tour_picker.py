"""The tour picker (F11): the samples' concepts; enter sends the concept's requests."""

from __future__ import annotations

from pathlib import Path

from explorer.app import NgxExploreApp
from explorer.screens.tour import TourPicker
from explorer.tour import load_tour
from explorer.widgets.requests_list import RequestsList

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "conf" / "nginx.conf"


def test_tour_data_has_fifteen_concepts_with_requests() -> None:
    concepts = load_tour()
    assert [c.number for c in concepts] == list(range(1, 16))
    assert all(c.requests and c.explanation for c in concepts)


async def test_enter_on_a_concept_sends_its_requests(wait_for) -> None:  # type: ignore[no-untyped-def]
    app = NgxExploreApp(str(SAMPLE), listen=False, watch=False, stable=True)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        await pilot.press("f11")
        await wait_for(pilot, lambda: isinstance(app.screen, TourPicker))
        await pilot.press("down", "enter")  # concept 2: hello / hello nil
        requests = app.main.query_one(RequestsList)
        await wait_for(pilot, lambda: len(requests.exchanges) >= 2)
        bodies = sorted(ex.response.text for ex in requests.exchanges)
        assert bodies == ["hello jack\n", "hello nil\n"]
