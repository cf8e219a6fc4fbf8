"""Region points from the land their towns cover (services.geocoder.territory)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from services.geocoder.geometry import haversine_km
from services.geocoder.territory import (
    TERRITORY,
    grid_inside,
    outline_edges,
    territory_centres,
)


def _square(west: float, south: float, east: float, north: float) -> list[list[float]]:
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


def _country(*rings: list[list[float]]) -> dict[str, object]:
    polygon = {"type": "Polygon", "coordinates": list(rings)}
    return {"type": "FeatureCollection", "features": [{"geometry": polygon}]}


def test_grid_inside_keeps_cells_in_the_outline_and_out_of_its_holes() -> None:
    edges = outline_edges(_country(_square(0, 0, 4, 4), _square(1, 1, 3, 3)))
    lat, lon = grid_inside(edges, 1.0)
    cells = set(zip(lat.tolist(), lon.tolist(), strict=True))
    assert (0.5, 0.5) in cells
    assert (1.5, 1.5) not in cells  # in the hole
    assert len(cells) == 16 - 4


def test_outline_edges_reads_multipolygons_and_skips_other_geometry() -> None:
    multi = {
        "type": "FeatureCollection",
        "features": [
            {"geometry": {"type": "MultiPolygon", "coordinates": [[_square(0, 0, 1, 1)]]}},
            {"geometry": {"type": "Point", "coordinates": [5, 5]}},
        ],
    }
    assert outline_edges(multi).shape == (4, 4)
    assert outline_edges({}).shape == (0, 4)


def test_a_thinly_settled_region_gets_the_middle_of_its_land() -> None:
    # North half (lat 5-10) is region N, settled only along its southern edge; south half S.
    edges = outline_edges(_country(_square(0, 0, 10, 10)))
    towns = [(5.2, lon + 0.5, "N") for lon in range(10)]
    towns += [(lat + 0.5, lon + 0.5, "S") for lat in range(4) for lon in range(10)]
    centres = territory_centres(towns, edges, replace(TERRITORY, step_deg=0.25))
    north_lat, north_lon = centres["N"]
    # The towns' own box would put it at lat 5.2; its land's middle is near 7.5.
    assert haversine_km(north_lat, north_lon, 7.5, 5.0) < 60
    assert centres["S"][0] < 3


def test_a_stray_town_claims_no_land_and_small_regions_are_left_out() -> None:
    edges = outline_edges(_country(_square(0, 0, 10, 10)))
    towns = [(lat + 0.5, lon + 0.5, "A") for lat in range(10) for lon in range(5)]
    towns += [(lat + 0.5, lon + 5.5, "B") for lat in range(10) for lon in range(5)]
    towns.append((5.0, 2.5, "B"))  # filed under B, in the middle of A
    towns.append((9.9, 9.9, "tiny"))
    centres = territory_centres(towns, edges, replace(TERRITORY, step_deg=0.5))
    assert haversine_km(*centres["B"], 5.0, 7.5) < 40
    assert "tiny" not in centres
    assert np.isclose(centres["A"][1], 2.5, atol=0.3)


def test_no_outline_no_centres() -> None:
    assert territory_centres([(1.0, 1.0, "A")], outline_edges({})) == {}
