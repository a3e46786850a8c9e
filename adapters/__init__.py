"""The portal's adapters to infrastructure: the Docker Engine (`engine`, the only module that
imports `docker`), the registry client (`registry`), retries for an unreachable registry (`retry`)
and which engine and registry to use (`factory`, from settings). Another engine or registry is a
setting, not a code change."""
