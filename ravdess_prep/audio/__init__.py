"""The audio stages, each a function on numpy arrays: reading and writing clips (:mod:`.io`),
resampling (:mod:`.resample`), the trim rule (:mod:`.trim`), centre padding (:mod:`.pad`) and the
offsets and lengths a build decides (:mod:`.measure`)."""
