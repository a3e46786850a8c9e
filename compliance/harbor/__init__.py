"""Harbor's pluggable scanner adapter API, served so a Harbor registry can use the portal as its
scanner: views (HTTP), reports (pure JSON shaping), services (the scan itself)."""
