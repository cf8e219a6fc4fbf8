"""The geocoder service."""
