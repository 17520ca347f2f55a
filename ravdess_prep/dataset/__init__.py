"""The dataset folder: its bundle files (:mod:`.layout`), the clips' table and splits
(:mod:`.contents`), the manifest (:mod:`.manifest`), the one soundness check every reader calls
(:mod:`.integrity`), reading bundles (:mod:`.bundles`), the data card (:mod:`.card`) and exports
(:mod:`.export`)."""
