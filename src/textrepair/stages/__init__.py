"""One module per DVC stage and job, each with a `run(settings, ...)` entry.

Data: ingest (bronze), clean (silver), corrupt (gold). Model: train (or adopt, with
`train.release`), evaluate, register, promote (and rollback), tune. Scoring: batch, stream and
produce (the stream's producer). Monitoring: monitor. `dvc.yaml` runs the first six.
"""
