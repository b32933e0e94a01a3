"""adpipe: the shared machinery of the ad-analytics pipeline (paths, errors, IO, validation)."""
