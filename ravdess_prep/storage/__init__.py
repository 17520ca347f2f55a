"""Files on disk, for every job: atomic writes and folder swaps, digests, the cache root and the
per-clip cache, verified resumable downloads, and the guards that keep an output from replacing
what the library did not write."""
