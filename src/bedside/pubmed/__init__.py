"""Acquiring literature from PubMed: the NCBI E-utilities client, its shared rate limit, resumable harvests."""
