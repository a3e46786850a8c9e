"""Recipes: saving a composed recipe (services), the builder form (form), the name rule for recipes
(names), runtime settings (runtime: privileged mode, capabilities); their pages and API."""
