"""Core helpers every layer may use: errors, YAML and text files, atomic writes, paths, file hashes,
confidence intervals and statistical disclosure control. Imports nothing else from the kit."""
