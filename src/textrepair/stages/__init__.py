"""Pipeline stages, one module each: ingest (bronze), clean (silver), corrupt (gold)."""
