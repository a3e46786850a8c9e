"""Composed recipes: the pure composer (catalog fragments -> Dockerfile), the build stage, the apt
transaction merging and shared layers, the recipe rows -> composer input (snapshot), and the
planner a build of a composed recipe records (plan)."""
