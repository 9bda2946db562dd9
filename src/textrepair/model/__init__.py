"""The repair model: two families behind one interface (`families`), the one inference class
(`repairer.Repairer`), copy-aware decoding (`decoding`) and the offline SmolLM2 loader (`smollm2`).
"""
