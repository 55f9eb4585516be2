"""The methods record: the study, its runner and cache, provenance, and the book's pages."""
