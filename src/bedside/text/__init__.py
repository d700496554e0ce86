"""Text analysis shared by ingestion, search and answers: sentence splitting, terms, vocabulary, quantities."""
