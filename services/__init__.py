"""newsflow's services, one folder each: ingest, entities, geocoder, summarizer, aggregator."""
