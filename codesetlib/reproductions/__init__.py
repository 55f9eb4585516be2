"""Reproductions of published primary-care coding analyses, computed from coded events through codesets."""
