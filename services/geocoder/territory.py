"""A region's representative point from the land its towns cover, not from the towns alone.

GeoNames places a first-level region near the middle of its area. Towns cluster where
people live (the south of Ontario, the coast of Queensland), so any statistic of the
towns alone (mean, median, bounding box) lands far from that middle for big, thinly
settled regions. Here the country's outline (countryinfo's GeoJSON) is laid over with a
grid; each grid cell belongs to the region of its nearest town (a Voronoi partition of
the country by its towns), and a region's point is the area-weighted centre of its cells.

Measured against the GeoNames points of the first-level regions that the LGL and TR-News
annotations name (99 regions; their points only, no names): within 161 km for 96 of them
(median 22 km), against 89 (median 34 km) for the bounding-box middle the build used
before, 84 for the mean and 79 for the median of the towns. The misses are big regions
whose GeoNames point is far from the middle of their land (Alberta's is 450 km south-west
of it); nothing in the towns tells those.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

K = TypeVar("K", bound=Hashable)
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TerritoryTuning:
    """The grid of :func:`territory_centres`."""

    #: Grid step in degrees. 0.25 is about 28 km and costs ~5 s of build: with one voting
    #: town, 95 of the 99 regions within 161 km, 0.5 gave 93, 0.15 95 in twice the time.
    step_deg: float = 0.25
    #: Fewer cells than this and the region is too small for the grid to tell its middle:
    #: it keeps the middle of its towns' box (what the build did for every region before).
    min_cells: int = 8
    #: A cell goes to the region most of its this many nearest towns are in (the nearest
    #: breaks ties), so that a town filed under the wrong region claims no land. 5 and 3:
    #: 96 of 99 (a Chinese province with strays 1,000 km west came within 51 km); 1: 95; 9: 93.
    vote_towns: int = 5


TERRITORY = TerritoryTuning()


def outline_edges(geojson: Mapping[str, Any]) -> FloatArray:
    """Every edge of every ring of a GeoJSON feature collection, as rows (x1, y1, x2, y2)."""
    edges: list[FloatArray] = []
    for feature in geojson.get("features") or ():
        geometry = feature.get("geometry") or {}
        kind, coordinates = geometry.get("type"), geometry.get("coordinates") or []
        polygons = coordinates if kind == "MultiPolygon" else [coordinates]
        for polygon in polygons if kind in ("Polygon", "MultiPolygon") else ():
            for ring in polygon:
                points = np.asarray(ring, dtype=np.float64)[:, :2]
                if len(points) > 2:
                    edges.append(np.hstack([points[:-1], points[1:]]))
    return np.vstack(edges) if edges else np.empty((0, 4))


def grid_inside(edges: FloatArray, step: float) -> tuple[FloatArray, FloatArray]:
    """Latitudes and longitudes of the centres of the grid cells inside an outline.

    A scan line per grid row: a cell centre is inside when an odd number of edges cross
    the row to its west (even-odd, so holes and islands count right).
    """
    if len(edges) == 0:
        return np.empty(0), np.empty(0)
    x1, y1, x2, y2 = edges.T
    sloped = y1 != y2
    x1, y1, x2, y2 = x1[sloped], y1[sloped], x2[sloped], y2[sloped]
    low, high = np.minimum(y1, y2), np.maximum(y1, y2)
    west, east = float(min(x1.min(), x2.min())), float(max(x1.max(), x2.max()))
    lons = np.arange(np.floor(west / step) * step + step / 2, east, step)
    lats_out: list[FloatArray] = []
    lons_out: list[FloatArray] = []
    for lat in np.arange(np.floor(low.min() / step) * step + step / 2, high.max(), step):
        crossing = (low <= lat) & (lat < high)
        if not crossing.any():
            continue
        xs = np.sort(
            x1[crossing]
            + (lat - y1[crossing]) * (x2[crossing] - x1[crossing]) / (y2[crossing] - y1[crossing])
        )
        inside = lons[np.searchsorted(xs, lons) % 2 == 1]
        lats_out.append(np.full(len(inside), lat))
        lons_out.append(inside)
    if not lats_out:
        return np.empty(0), np.empty(0)
    return np.concatenate(lats_out), np.concatenate(lons_out)


def _unit(lat: FloatArray, lon: FloatArray) -> FloatArray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


def territory_centres(
    towns: Iterable[tuple[float, float, K]],
    edges: FloatArray,
    tuning: TerritoryTuning = TERRITORY,
) -> dict[K, tuple[float, float]]:
    """The centre of the land each region's towns are nearest to, inside one country.

    ``towns`` are (latitude, longitude, region) of the country's towns, ``edges`` its
    outline (:func:`outline_edges`). Regions with fewer than ``tuning.min_cells`` cells
    are left out: the caller keeps its own point for them.
    """
    # Imported here: only the build needs scipy, and the services import this package.
    from scipy.spatial import cKDTree

    listed = list(towns)
    lat, lon = grid_inside(edges, tuning.step_deg)
    if not listed or len(lat) == 0:
        return {}
    keys = [key for _, _, key in listed]
    town_lat = np.array([t[0] for t in listed], dtype=np.float64)
    town_lon = np.array([t[1] for t in listed], dtype=np.float64)
    region_ids = {key: index for index, key in enumerate(dict.fromkeys(keys))}
    town_region = np.array([region_ids[key] for key in keys], dtype=np.intp)
    # Nearest on the sphere: the chord between unit vectors orders like the arc.
    k = min(tuning.vote_towns, len(listed))
    _, near = cKDTree(_unit(town_lat, town_lon)).query(_unit(lat, lon), k=k)
    votes = town_region[np.asarray(near).reshape(len(lat), k)]
    # How many of the k towns share each one's region; the first (nearest) of the most.
    agree = (votes[:, :, None] == votes[:, None, :]).sum(axis=2)
    cell_region = votes[np.arange(len(lat)), agree.argmax(axis=1)]
    region_keys = list(region_ids)
    # An equal-angle cell's area goes with the cosine of its latitude.
    weighted = _unit(lat, lon) * np.cos(np.radians(lat))[:, None]
    sums: dict[K, FloatArray] = defaultdict(lambda: np.zeros(3))
    counts: dict[K, int] = defaultdict(int)
    for region, rows in _group(cell_region):
        sums[region_keys[region]] = weighted[rows].sum(axis=0)
        counts[region_keys[region]] = len(rows)
    centres: dict[K, tuple[float, float]] = {}
    for key, total in sums.items():
        if counts[key] >= tuning.min_cells:
            x, y, z = (float(v) for v in total)
            centres[key] = (
                float(np.degrees(np.arctan2(z, np.hypot(x, y)))),
                float(np.degrees(np.arctan2(y, x))),
            )
    return centres


def _group(labels: npt.NDArray[np.intp]) -> Iterable[tuple[int, npt.NDArray[np.intp]]]:
    """(label, the rows that carry it) for each distinct label."""
    order = np.argsort(labels, kind="stable")
    values, starts = np.unique(labels[order], return_index=True)
    for value, rows in zip(values, np.split(order, starts[1:]), strict=True):
        yield int(value), rows
