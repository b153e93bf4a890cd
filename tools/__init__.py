"""Command-line tools of kubernaut-redis (manifest renderer, config reference)."""
