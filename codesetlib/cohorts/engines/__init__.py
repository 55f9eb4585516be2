"""The engines that run a cohort plan: DuckDB (default), Spark, and the pandas reference."""
