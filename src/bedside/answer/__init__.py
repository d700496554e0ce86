"""Question analysis, evidence selection, composition (extractive or LLM), verification and rendering."""
