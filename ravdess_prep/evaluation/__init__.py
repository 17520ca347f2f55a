"""The evaluation side: heads (:mod:`.heads`, plug-ins by entry point), fitting them with the
choices made on dev (:mod:`.fitting`), the data they are trained on (:mod:`.training_data`), the
field's scores (:mod:`.metrics`), training and scoring a model folder (:mod:`.classifier`),
cross-validation (:mod:`.crossval`) and cross-corpus scoring (:mod:`.crosscorpus`). It reads
dataset folders and imports nothing of the audio stages."""
