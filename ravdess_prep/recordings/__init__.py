"""Recordings as people bring them: emotion over time in audio of any length, folders of
thousands of files, and the tables those jobs write. (Where windows fall and how their rows
are computed is below: :mod:`ravdess_prep.audio.windows`, :mod:`ravdess_prep.build.timeline`.)

- :mod:`.emotion`: a trained model's probabilities over time.
- :mod:`.chunks`: what one chunk of a job's files gives, failures apart.
- :mod:`.jobs`: many files in one job, failures collected, a rerun resuming.
- :mod:`.tables`: the results as CSV, JSON or Parquet.
- :mod:`.plot`: a file's timeline as a picture.
"""
