"""newsflow's services: ingest, entities, geocoder, summarizer, aggregator, and the CLI."""
