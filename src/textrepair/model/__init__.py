"""The repair model: two families behind one interface (`families`), the one inference class
(`repairer.Repairer`), copy-aware decoding (`decoding`) and the offline loader of its GGUF
bases (`bases`).
"""
