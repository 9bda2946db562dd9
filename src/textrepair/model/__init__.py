"""The repair model: three families behind one interface (`families`; the edit family in `edit`
and `edit_train`), the one inference class (`repairer.Repairer`), copy-aware decoding
(`decoding`), training (`train`), the MLflow pyfunc (`pyfunc`), the offline loader of the GGUF
bases (`bases`), which model a directory or URI names (`source`) and the constants the settings
take their defaults from (`constants`).
"""
