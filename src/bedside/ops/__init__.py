"""Operating a data directory: backup and restore, the consistency check and the deployment checks."""
