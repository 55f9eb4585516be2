"""Codesets: the governed artefact (model and files), its expansion against a release, lint, diffs,
versions and exchange formats. Imports only core and terminology."""
