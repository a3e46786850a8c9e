"""The team's own `.paas` scripts: their checks (shellcheck and the portal's rules), the scripts of an
uploaded package, scripts shared across a team's recipes, and a recipe's build settings; pages and API."""
