"""``make bench``: robotctl side by side with the bare stack underneath it (see __main__)."""
