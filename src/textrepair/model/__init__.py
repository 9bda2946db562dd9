"""The repair model: two families behind one interface (`families`), the one inference class
(`repairer.Repairer`), copy-aware decoding (`decoding`), the offline loader of its GGUF bases
(`bases`) and the constants the settings take their defaults from (`constants`).
"""
