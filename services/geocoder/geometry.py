"""Points and distances on the Earth, with the one Earth radius the geocoder uses."""

from __future__ import annotations

import math
from typing import Final

#: The mean Earth radius (IUGG, km). The evaluation's accuracy@161km is measured with it.
EARTH_RADIUS_KM: Final = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def midpoint(points: list[tuple[float, float]]) -> tuple[float, float]:
    """The middle of the bounding box of ``points`` (latitude, longitude).

    Not the mean: a region's towns cluster where people live (the east of Texas), and the
    box is closer to the region's own centroid.
    """
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    if max(lons) - min(lons) > 180:
        # Spans the antimeridian (Alaska, Chukotka): use the mean on the shifted longitudes.
        shifted = [lon + 360 if lon < 0 else lon for lon in lons]
        mid_lon = (max(shifted) + min(shifted)) / 2
        mid_lon = mid_lon - 360 if mid_lon > 180 else mid_lon
    else:
        mid_lon = (max(lons) + min(lons)) / 2
    return (max(lats) + min(lats)) / 2, mid_lon
