"""What platform admins do with the catalog, above builds and compliance: which recipes use a base
or a component (usage), rebuilding them (rebuilds), base images proposed from published images
(proposals, with their page action and API), and the admin pages of the catalog."""
